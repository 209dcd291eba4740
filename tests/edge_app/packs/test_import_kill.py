"""``kill -9`` of a real ``edge-app import-pack`` process mid-import, then a re-run."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge_app.library.store import Library
from edge_app.search.index_store import IndexStore
from engines.manifest import Manifest
from tests.edge_app.cli_process import edge_app_process
from tests.edge_app.packs.conftest import N_PHOTOS, SHARD_ROWS


def _import(
    data: Path, bundle: Path, pack: Path, hook: str | None = None
) -> subprocess.CompletedProcess[str]:
    return edge_app_process(data, bundle, "import-pack", str(pack), "--json", hook=hook)


@pytest.mark.parametrize(
    ("hook", "committed"), [("pack-mid-batch:2", 64), ("pack-after-commit:2", 128)]
)
def test_kill_mid_import_then_resume_loses_and_doubles_nothing(
    toy_pack: Path, toy_bundle: Path, tmp_path: Path, hook: str, committed: int
) -> None:
    data = tmp_path / "box"
    killed = _import(data, toy_bundle, toy_pack, hook)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with Library.open_reader(data / "library.db") as lib:
        assert lib.counts_by_status()["indexed"] == committed
    resumed = _import(data, toy_bundle, toy_pack)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert (report["added"], report["skipped_done"]) == (N_PHOTOS - committed, committed)
    assert committed % SHARD_ROWS == 0
    manifest = Manifest.load(toy_bundle)
    with Library.open_reader(data / "library.db") as lib:
        keys = list(lib.known_files())
        shas = [p.sha256 for p in lib.list_photos(limit=1000)]
        generation = lib.index_generation()
        ids = sorted(int(i) for b, _ in lib.iter_embeddings(manifest.bundle_id) for i in b)
    assert len(keys) == len(set(shas)) == N_PHOTOS
    files = [p for p in (data / "library").rglob("*") if p.is_file()]
    assert len(files) == N_PHOTOS and not [p for p in files if p.name.startswith(".")]
    index = IndexStore(data / "index").load(manifest.bundle_id, generation, manifest.embedding_dim)
    assert np.array_equal(index.ids(), np.asarray(ids, dtype=np.int64))
