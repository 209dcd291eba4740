"""Scan every photo root (or the requested paths), handling roots that come and go.

Why here and not in the scanner: `edge_app.indexing.scanner` walks ONE folder and knows
nothing about the library. This module decides, per root, whether it is present, turns
root-relative paths into library keys (`edge_app.library.roots.to_key`) and pairs each
scan with that root's rows, so the pipeline's diff never sees another root's photos as
"deleted".

Roots that come and go: an extra root whose folder is missing, unreadable, or empty
while the library holds photos of it (an unmounted mount point looks like that) goes
*offline*: its rows and embeddings stay, its vectors leave the FAISS index, search and
the gallery skip it. When it is back, its stored embeddings return to the index and the
normal size + mtime diff runs: unchanged files cost a ``stat``, files whose mtime alone
changed are hashed and keep their embedding when the content hash matches. Nothing is
re-encoded.

In watcher/polling runs, files modified less than ``settle_s`` ago are *deferred* (neither indexed
nor treated as deleted): a camera or ``cp`` still writing them gets its file indexed on
the next pass, complete.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge_app.indexing import scanner
from edge_app.indexing.roots import locate, root_path
from edge_app.indexing.scanner import ScannedFile, ScanResult, SkippedPath
from edge_app.library.records import KnownFile
from edge_app.library.roots import Root, split_key, to_key
from edge_app.library.store import Library
from edge_app.search.index_store import IndexStore
from edge_app.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["RootScan", "absence_reason", "scan_roots"]


@dataclass
class RootScan:
    """One root's scan and the rows it is diffed against.

    ``files`` (library keys) is a stream, read once by the diff: a full rescan never
    holds every file. ``skipped`` and ``deferred`` are complete once it has been read.
    """

    root: Root
    result: ScanResult  # root, keyed scopes, skipped (root-relative paths)
    files: Iterable[ScannedFile]
    known: dict[str, KnownFile]
    deferred: int = 0

    def skipped(self) -> list[SkippedPath]:
        """What the scan left out, as library keys."""
        return [SkippedPath(to_key(self.root.id, s.path), s.reason) for s in self.result.skipped]


def scan_roots(
    library: Library,
    settings: Settings,
    store: IndexStore,
    paths: Sequence[Path] | None = None,
    settle_s: float = 0.0,
) -> list[RootScan]:
    """Scan all online roots, or the roots holding ``paths`` (only those paths).

    ``settle_s`` > 0 defers files written less than that long ago (see module doc).
    """
    roots = library.list_roots()
    wanted: dict[int, list[Path] | None] = (
        dict(locate(paths, roots, settings).items()) if paths else {r.id: None for r in roots}
    )
    scans: list[RootScan] = []
    for root in roots:
        if root.id in wanted and _present(library, settings, store, root):
            scans.append(_scan(library, settings, root, wanted[root.id], settle_s))
    return scans


def absence_reason(folder: Path, known_photos: int) -> str | None:
    """Why a root counts as gone right now (None = present)."""
    try:
        if not folder.is_dir():
            return f"folder {folder} is missing (disk unplugged, unmounted or renamed)"
        with os.scandir(folder) as entries:
            empty = next(entries, None) is None
    except OSError as exc:
        return f"folder {folder} cannot be read ({exc.strerror or exc})"
    if empty and known_photos:
        return f"folder {folder} is empty but held {known_photos} photos (an unmounted disk?)"
    return None


def _present(library: Library, settings: Settings, store: IndexStore, root: Root) -> bool:
    """Check presence and move the root (and its vectors) offline or back online."""
    if root.is_library:
        return True
    reason = absence_reason(root_path(root, settings), root.photos)
    if reason is not None:
        if library.set_root_online(root.id, False, reason):
            gone = store.current().remove(np.asarray(library.root_photo_ids(root.id)))
            log.warning("root %s offline: %s (%d photos hidden)", root.path, reason, gone)
        return False
    if library.set_root_online(root.id, True) and store.bundle_id is not None:
        ids, vectors = library.get_embeddings(library.root_photo_ids(root.id, store.bundle_id))
        if len(ids):
            store.current().add(ids, vectors)
        log.info("root %s online again: %d photos back without re-encoding", root.path, len(ids))
    return True


def _scan(
    library: Library, settings: Settings, root: Root, paths: list[Path] | None, settle_s: float
) -> RootScan:
    found, files = scanner.scan_lazily(root_path(root, settings), paths)
    found.scopes = tuple(to_key(root.id, s) for s in found.scopes)
    keyed: Iterable[ScannedFile] = (
        files
        if root.is_library
        else (replace(f, rel_path=to_key(root.id, f.rel_path)) for f in files)
    )
    scan = RootScan(root, found, keyed, library.known_files_in_root(root.id))
    if settle_s > 0:
        scan.files = _defer_fresh(scan, keyed, settle_s)
    if paths:  # a few folders (the watcher): small enough to hold
        scan.files = list(scan.files)
        found.scopes += _moved_away(found, scan.files, scan.known, root.id)
    library.mark_root_scanned(root.id)
    return scan


def _moved_away(
    result: ScanResult, files: list[ScannedFile], known: dict[str, KnownFile], root_id: int
) -> tuple[str, ...]:
    """Rows outside the scanned folders whose file is gone and whose size matches a new
    file: in scope for this run, so the diff can prove (by hash) that it moved here.

    Why: a watcher job covers only the folders that changed, and inotify may report the
    two ends of a move in separate batches; without this, a move whose destination is
    seen first would become a new photo (new id) plus a deletion.
    """
    new_sizes = {f.size for f in files if f.rel_path not in known}
    gone = []
    for key, row in known.items():
        candidate = row.size in new_sizes and not result.in_scope(key)
        if candidate and not (result.root / split_key(key)[1]).exists():
            gone.append(key)
    return tuple(gone)


def _defer_fresh(
    scan: RootScan, files: Iterable[ScannedFile], settle_s: float
) -> Iterator[ScannedFile]:
    """Leave out files written too recently (maybe still growing), counted in
    ``scan.deferred``; their rows leave ``known`` too, so they are not "deleted"."""
    cutoff = time.time_ns() - int(settle_s * 1e9)
    for item in files:
        if item.mtime_ns > cutoff:
            scan.known.pop(item.rel_path, None)
            scan.deferred += 1
            continue
        yield item
    if scan.deferred:
        log.info("%d file(s) still being written; indexed once stable", scan.deferred)
