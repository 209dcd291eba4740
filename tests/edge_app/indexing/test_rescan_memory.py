"""A full rescan streams the scanned files: what it holds grows with the rows it diffs
against, not with every file and row twice over (real files, real SQLite, tracemalloc)."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import numpy as np

from edge_app.indexing import root_scan, scanner
from edge_app.library.records import PhotoMeta
from edge_app.library.store import Library
from edge_app.search.index_store import IndexStore
from edge_app.settings import Settings

N = 4000
#: bytes per photo: the known row (id, key, size, mtime, sha256, status, bundle) and its
#: dict slot. Holding every ScannedFile (with its Path) as well took ~1.5 kB per photo.
MAX_BYTES_PER_PHOTO = 1000


def _library(tmp_path: Path) -> tuple[Settings, Library]:
    settings = Settings(data_dir=tmp_path / "data", bundle_dir=tmp_path / "no-bundle")
    settings.ensure_dirs()
    seed = tmp_path / "seed.jpg"
    seed.write_bytes(b"\xff\xd8" + os.urandom(2000))
    metas = []
    for i in range(N):
        path = settings.library_dir / "2019" / f"event-{i // 500:02d}" / f"IMG_{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        os.link(seed, path)
        st = path.stat()
        metas.append(PhotoMeta(path.relative_to(settings.library_dir).as_posix(),
                               st.st_size, st.st_mtime_ns, f"{i:064x}"))  # fmt: skip
    library = Library(settings.db_path)
    library.record_photos([(m, np.full(8, 0.5, np.float32)) for m in metas], "B")
    return settings, library


def test_a_full_rescan_holds_the_rows_not_every_file(tmp_path: Path) -> None:
    settings, library = _library(tmp_path)
    tracemalloc.start()
    try:
        scans = root_scan.scan_roots(library, settings, IndexStore(settings.index_dir))
        [d] = [scanner.diff_files(s.files, s.known, s.result.in_scope, "B") for s in scans]
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (d.scanned, d.unchanged, d.new, d.missing) == (N, N, [], {})
    assert peak / N < MAX_BYTES_PER_PHOTO, f"{peak / N:.0f} bytes per photo"
