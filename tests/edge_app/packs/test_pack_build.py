"""`edge-build pack` on a real local Ray (2 CPUs): what a pack holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from edge_app.indexing.scanner import sha256_file
from edge_app.packs.format import PackManifest
from engines.manifest import Manifest
from tests.edge_app.packs.conftest import BAD_PHOTO, N_PHOTOS, SHARD_ROWS


def test_pack_holds_every_photo_with_checksummed_shards(toy_pack: Path, toy_bundle: Path) -> None:
    manifest = PackManifest.load(toy_pack)
    bundle = Manifest.load(toy_bundle)
    assert manifest.bundle_id == bundle.bundle_id and manifest.dim == bundle.embedding_dim
    assert manifest.counts["photos"] == N_PHOTOS
    assert [s.rows for s in manifest.shards] == [SHARD_ROWS] * 3 + [N_PHOTOS - 3 * SHARD_ROWS]
    for shard in manifest.shards:
        assert sha256_file(toy_pack / shard.path) == shard.sha256
    assert {"ray", "pyarrow", "edge-photo-search"} <= set(manifest.tools)
    assert manifest.image_precision == "fp32" and manifest.stats["workers"] == 2


def test_a_photo_that_fails_to_decode_is_listed_and_the_run_goes_on(toy_pack: Path) -> None:
    manifest = PackManifest.load(toy_pack)
    assert manifest.counts["failed"] == 1
    ((path, reason),) = manifest.failures
    assert path == BAD_PHOTO and "truncated" in reason
    data = json.loads((toy_pack / "pack.json").read_text())
    assert data["failures"] == [{"path": BAD_PHOTO, "reason": reason}]


def test_rows_carry_metadata_unit_embeddings_and_thumbnails(
    toy_pack: Path, pack_photos: Path
) -> None:
    manifest = PackManifest.load(toy_pack)
    table = pq.read_table(toy_pack / manifest.shards[0].path)
    rows = table.to_pylist()
    vectors = np.asarray([r["embedding"] for r in rows], np.float32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    row = rows[0]
    source = pack_photos / row["rel_path"]
    assert (
        row["sha256"] == sha256_file(source) == sha256_file(toy_pack / "photos" / row["rel_path"])
    )
    assert (row["size"], row["mtime_ns"]) == (source.stat().st_size, source.stat().st_mtime_ns)
    assert (row["width"], row["height"]) == (160, 160)
    thumb = toy_pack / "thumbs" / row["sha256"][:2] / f"{row['sha256']}.jpg"
    assert sha256_file(thumb) == row["thumb_sha256"]
    assert row["ocr_state"] is None  # the toy bundle has no OCR models


def test_packing_into_a_used_folder_is_refused(
    toy_pack: Path, pack_photos: Path, toy_bundle: Path
) -> None:
    from build_engines.errors import BuildError
    from build_engines.pack.run import PackOptions, build_pack

    with pytest.raises(BuildError, match="already holds a pack"):
        build_pack(PackOptions(pack_photos, toy_bundle, toy_pack))


def test_help_texts_say_how_to_use_it(capsys: pytest.CaptureFixture[str]) -> None:
    from build_engines.cli import parser as build_parser
    from edge_app.cli.main import build_parser as app_parser

    for parse, argv in (
        (build_parser(), ["pack", "--help"]),
        (app_parser(), ["import-pack", "--help"]),
    ):
        with pytest.raises(SystemExit):
            parse.parse_args(argv)
        text = capsys.readouterr().out
        assert "edge-build pack ~/Pictures --bundle BUNDLE --out" in text
        assert "edge-app import-pack" in text
        assert "--ray-address" in text or "--root-map" in text
