"""The packer's OCR stage reads the same lines as the box's own OCR pass, and they import.

The stages are run as plain callables (what Ray's actors call), on the tiny bundle with the
real PP-OCR models; the Ray plumbing itself is covered by the other pack tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from build_engines.pack.stages import DecodeStage, EncodeStage, OcrStage, row_dicts
from build_engines.pack.writer import PackWriter
from edge_app.context import AppContext
from edge_app.enrich.ocr_pass import run_ocr
from edge_app.indexing.imaging import DEFAULT_MAX_PIXELS
from edge_app.indexing.scanner import scan
from edge_app.packs.format import INCLUDED
from edge_app.packs.importer import import_pack
from edge_app.settings import Settings
from engines.manifest import Manifest
from tests.edge_app.enrich.ocr_fixtures import write_text_photos


def _objects(values: list[object]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _pack(photos: Path, bundle: Path, out: Path) -> None:
    files = scan(photos).files
    batch = {
        "rel_path": _objects([f.rel_path for f in files]),
        "abs_path": _objects([str(f.abs_path) for f in files]),
        "size": np.asarray([f.size for f in files]),
        "mtime_ns": np.asarray([f.mtime_ns for f in files]),
    }
    settings = Settings()
    ocr = {"det_side": settings.ocr_det_side, "max_side": settings.ocr_max_side,
           "max_pixels": DEFAULT_MAX_PIXELS}  # fmt: skip
    batch = DecodeStage(str(bundle), DEFAULT_MAX_PIXELS)(batch)
    batch = EncodeStage(str(bundle), None)(batch)
    batch = OcrStage(str(bundle), None, ocr)(batch)
    manifest = Manifest.load(bundle)
    writer = PackWriter(out, manifest.embedding_dim, photos_from=photos)
    for row in row_dicts(batch):
        writer.add(row)
    assert manifest.ocr is not None
    writer.finish(pack_id="ocr-pack", bundle_id=manifest.bundle_id, photos_mode=INCLUDED,
                  ocr_engine=manifest.ocr.source)  # fmt: skip


def _lines_by_name(ctx: AppContext) -> dict[str, list[str]]:
    photos = ctx.library.list_photos(limit=100)
    return {Path(p.rel_path).name: [ln.text for ln in ctx.library.ocr_lines(p.id)] for p in photos}


def test_pack_ocr_equals_the_box_ocr_pass(ocr_bundle: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_text_photos(photos)
    _pack(photos, ocr_bundle, tmp_path / "pack")
    with AppContext.open(Settings(data_dir=tmp_path / "box", bundle_dir=ocr_bundle)) as box:
        import_pack(box, tmp_path / "pack")
        assert box.library.ocr_counts()["pending"] == 0  # nothing left for the box to read
        from_pack = _lines_by_name(box)
        assert box.library.text_hits("WAREHOUSE")
    onbox_settings = Settings(data_dir=tmp_path / "onbox", bundle_dir=ocr_bundle)
    shutil.copytree(photos, onbox_settings.library_dir)
    with AppContext.open(onbox_settings) as onbox:
        onbox.index_library()
        run_ocr(onbox_settings, onbox.library)
        assert from_pack == _lines_by_name(onbox)
    assert sum(len(v) for v in from_pack.values()) >= 4
