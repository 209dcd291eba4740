"""The indexer: scan, diff against the library, decode in parallel, encode in batches.

Shape of a run (`Indexer.run`)::

    scan -> diff (size + mtime) -> hash only the possible moves / touches
         -> moves and deletions applied (nothing decoded for them)
         -> decode pool (threads) --bounded window--> this thread: batch -> encoder
         -> ONE transaction per batch (photos + embeddings + errors + generation bump)
         -> FAISS add; the index is saved atomically every ~30 s and at the end

Why these choices:

* SQLite is the source of truth. A batch exists only after its commit; the FAISS file
  carries the generation it matches and `IndexStore` rebuilds it from SQLite when they
  differ. So ``kill -9`` at any instant loses at most uncommitted work, and the next
  run's diff (disk vs. committed rows) redoes exactly that: nothing lost, nothing twice.
* Threads, not processes, decode: Pillow releases the GIL while decoding and resizing,
  ONNX Runtime / OpenVINO while encoding; threads pass arrays on without pickling.
* In-flight decodes are bounded (``2 x batch_size + workers``, plus the batch being
  encoded), so memory stays flat whether the folder holds 50 photos or 500 000.
* A move keeps its row, id and embedding: found by size, then sha256, before any
  decoding. Content that already has an embedding (a copy, a ``touch``) reuses it.
* Bad files become ``status='error'`` rows with the human reason from `decode_image`;
  they never stop a run and are retried only when the file changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from edge_app.errors import ImageDecodeError, LibraryError
from edge_app.failpoints import failpoint
from edge_app.indexing import root_scan, scanner
from edge_app.indexing.imaging import DecodedImage, decode_image, thumbnail_path, write_thumbnail
from edge_app.indexing.progress import IndexReport, Progress
from edge_app.indexing.scanner import Diff, ScannedFile
from edge_app.library.store import Library, PhotoMeta
from edge_app.search import places
from edge_app.search.index_store import IndexStore
from edge_app.settings import Settings
from engines.batching import bulk_priority

log = logging.getLogger(__name__)

__all__ = ["ImageEncoder", "IndexReport", "Indexer", "decode_file"]

THUMB_SIZE = 256
SAVE_EVERY_S = 30.0


class ImageEncoder(Protocol):
    """The part of `engines.ClipEncoder` the indexer uses."""

    @property
    def bundle_id(self) -> str: ...

    @property
    def image_size(self) -> int: ...

    def preprocess(self, img: Image.Image) -> np.ndarray: ...

    def encode_pixels(self, x: np.ndarray) -> np.ndarray: ...


@dataclass
class _Ready:
    """A decoded file: pixels for the encoder, or an embedding it can reuse."""

    meta: PhotoMeta
    pixels: np.ndarray | None
    embedding: np.ndarray | None = None


@dataclass
class _Failed:
    meta: PhotoMeta
    reason: str  # the human-readable reason stored in photos.error_reason


@dataclass
class _Run:
    """State of one run, handed down the encoding steps."""

    pool: ThreadPoolExecutor
    progress: Progress
    stop: threading.Event
    report: IndexReport


@dataclass
class _Batch:
    ready: list[_Ready] = field(default_factory=list)
    failed: list[_Failed] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ready) + len(self.failed)


class Indexer:
    """Keeps the library (SQLite + FAISS) in step with the photo folder. One run at a time."""

    def __init__(
        self, settings: Settings, library: Library, store: IndexStore, encoder: ImageEncoder
    ) -> None:
        self.settings = settings
        self.library = library
        self.store = store
        self.encoder = encoder
        self._run_lock = threading.Lock()

    def run(
        self,
        paths: Sequence[Path] | None = None,
        progress: Progress | None = None,
        stop_event: threading.Event | None = None,
        settle_s: float = 0.0,
    ) -> IndexReport:
        """Bring the library in line with disk (all of it, or ``paths`` inside it).

        ``stop_event`` set (SIGTERM) = finish the current batch, commit, save, return
        with ``stopped=True``. Raises `PathOutsideLibraryError` for paths outside the
        library and `LibraryError`/`VectorIndexError` when storage fails. ``settle_s`` > 0
        (the watcher) defers files modified more recently than that: maybe still growing.
        """
        if not self._run_lock.acquire(blocking=False):
            raise LibraryError("an indexing run is already in progress: wait for it to finish")
        progress = progress or Progress()
        try:
            return self._run(paths, progress, stop_event or threading.Event(), settle_s)
        except BaseException as exc:
            progress.finish("failed", message=str(exc))
            raise
        finally:
            self._run_lock.release()

    def _run(
        self,
        paths: Sequence[Path] | None,
        progress: Progress,
        stop: threading.Event,
        settle_s: float,
    ) -> IndexReport:
        started = time.monotonic()
        report = IndexReport(bundle_id=self.encoder.bundle_id)
        progress.start("scanning")
        scans = root_scan.scan_roots(self.library, self.settings, self.store, paths, settle_s)
        with ThreadPoolExecutor(self.settings.decode_workers, "edge-decode") as pool:
            todo = [f for s in scans for f in self._plan(s, pool, report)]  # streams each scan
            failpoint("after-scan", 0)
            report.skipped = [(k.path, k.reason) for s in scans for k in s.skipped()]
            report.deferred = sum(s.deferred for s in scans)
            progress.set_total(len(todo))
            self._encode_all(todo, _Run(pool, progress, stop, report))
        self._save_index()
        report.seconds = round(time.monotonic() - started, 3)
        progress.finish("stopped" if report.stopped else "done")
        log.info("index run: %s", report.summary())
        return report

    # ------------------------------------------------------------------ planning
    def _plan(
        self, scan: root_scan.RootScan, pool: ThreadPoolExecutor, report: IndexReport
    ) -> list[ScannedFile]:
        """Apply moves, touches and deletions in one root; return the files to encode."""
        in_scope = scan.result.in_scope
        d = scanner.diff_files(scan.files, scan.known, in_scope, self.encoder.bundle_id)
        report.scanned += d.scanned
        report.unchanged += d.unchanged
        report.new += len(d.new)
        report.changed += len(d.changed)
        hashes = self._hash_all(pool, [*d.maybe_moved, *(f for _, f in d.maybe_touched)])
        todo = [*d.changed, *d.stale, *d.new]
        todo += self._apply_touches(d, hashes, report)
        todo += self._apply_moves(d, hashes, report)
        self._apply_deletions(d, report)
        return sorted(todo, key=lambda f: f.rel_path)

    def _hash_all(self, pool: ThreadPoolExecutor, files: list[ScannedFile]) -> dict[str, str]:
        """sha256 of the candidates; an unreadable file is left to the decoder to report."""
        digests = pool.map(scanner.sha256_or_none, files)
        return {f.rel_path: h for f, h in zip(files, digests, strict=True) if h is not None}

    def _apply_touches(
        self, d: Diff, hashes: dict[str, str], report: IndexReport
    ) -> list[ScannedFile]:
        """Same bytes, new mtime: keep row and embedding, record the new mtimes at once.

        One transaction for all of them: a remounted disk whose mtimes all shifted
        (FAT and daylight saving) must not cost one commit per photo.
        """
        redo: list[ScannedFile] = []
        touched: list[tuple[int, int]] = []
        for row, item in d.maybe_touched:
            if hashes.get(item.rel_path) != row.sha256:
                redo.append(item)
                report.changed += 1
                continue
            touched.append((row.id, item.mtime_ns))
            report.unchanged += 1
        self.library.set_mtimes(touched)
        return redo

    def _apply_moves(
        self, d: Diff, hashes: dict[str, str], report: IndexReport
    ) -> list[ScannedFile]:
        """A new path holding the bytes of a missing photo is that photo, moved."""
        by_sha: dict[str, list[int]] = {}
        for row in d.missing.values():
            if row.sha256:
                by_sha.setdefault(row.sha256, []).append(row.id)
        claimed = {row.id: rel for rel, row in d.missing.items()}
        redo: list[ScannedFile] = []
        for item in d.maybe_moved:
            ids = by_sha.get(hashes.get(item.rel_path, ""), [])
            if not ids:
                redo.append(item)
                report.new += 1
                continue
            photo_id = ids.pop(0)
            self.library.rename_photo(photo_id, item.rel_path, item.mtime_ns)
            d.missing.pop(claimed[photo_id])
            report.moved += 1
        return redo

    def _apply_deletions(self, d: Diff, report: IndexReport) -> None:
        if not d.missing:
            return
        rows = list(d.missing.values())
        report.deleted = self.library.delete_photos([r.id for r in rows])
        self.store.current().remove(np.asarray([r.id for r in rows]))
        for sha in {r.sha256 for r in rows if r.sha256}:
            if not self.library.find_by_sha256(sha):
                thumbnail_path(self.settings.thumbs_dir, sha).unlink(missing_ok=True)

    # ------------------------------------------------------------------ encoding
    def _encode_all(self, todo: list[ScannedFile], run: _Run) -> None:
        """Consume decoded files in order, flushing a batch every ``batch_size``."""
        batch = _Batch()
        last_save = time.monotonic()
        for result in self._decoded(todo, run):
            if isinstance(result, _Failed):
                batch.failed.append(result)
            else:
                batch.ready.append(result)
            if len(batch) >= self.settings.batch_size:
                self._flush(batch, run)
                batch = _Batch()
                last_save = self._maybe_save(last_save)
        self._flush(batch, run)

    def _decoded(self, todo: list[ScannedFile], run: _Run) -> Iterator[_Ready | _Failed]:
        """Results in order, with at most ``window`` decodes in flight (bounded memory)."""
        window = 2 * self.settings.batch_size + self.settings.decode_workers
        pending: deque[Future[_Ready | _Failed]] = deque()
        items = iter(todo)
        try:
            while True:
                while len(pending) < window and (item := next(items, None)) is not None:
                    pending.append(run.pool.submit(self._prepare, item))
                if not pending:
                    return
                if run.stop.is_set():
                    run.report.stopped = True
                    return
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()

    def _prepare(self, item: ScannedFile) -> _Ready | _Failed:
        """Worker thread: hash, decode, thumbnail, preprocess. No database access here."""
        meta, decoded = decode_file(item, self.encoder.image_size, self.settings.max_image_pixels)
        if isinstance(decoded, str):
            return _Failed(meta, decoded)
        thumb = write_thumbnail(self.settings.thumbs_dir, meta.sha256 or "", decoded.thumbnail_jpeg)
        meta = replace(meta, thumb_path=thumb)
        return _Ready(meta, self.encoder.preprocess(decoded.image))

    def _flush(self, batch: _Batch, run: _Run) -> None:
        """Encode, then commit photos + errors + generation in ONE transaction, then FAISS."""
        if not len(batch):
            return
        number = run.report.batches + 1
        self._attach_reusable(batch, run.report)
        vectors = self._encode(batch, run.report)
        failpoint("mid-batch", number)
        metas = places.with_places([r.meta for r in batch.ready])  # stored, not per request
        with self.library.transaction():
            ids = self.library.record_photos(
                list(zip(metas, vectors, strict=True)), self.encoder.bundle_id
            )
            failed_ids = [self.library.mark_error(f.meta, f.reason) for f in batch.failed]
        run.report.batches = number
        failpoint("after-commit", number)
        index = self.store.current()
        index.remove(np.asarray(failed_ids))  # a changed file that no longer decodes
        if ids:
            index.add(np.asarray(ids), np.stack(vectors))
        self._report_batch(batch, run)

    def _attach_reusable(self, batch: _Batch, report: IndexReport) -> None:
        """Content already embedded by this bundle (a copy) reuses that embedding."""
        for ready in batch.ready:
            for photo in self.library.find_by_sha256(ready.meta.sha256 or ""):
                if photo.has_embedding and photo.bundle_id == self.encoder.bundle_id:
                    ready.embedding = self.library.get_embedding(photo.id)
                    ready.pixels = None
                    report.reused += 1
                    break

    def _encode(self, batch: _Batch, report: IndexReport) -> list[np.ndarray]:
        """One encoder call for the batch; identical files in it are encoded once."""
        unique: dict[str, _Ready] = {}
        for ready in batch.ready:
            if ready.embedding is None:
                unique.setdefault(ready.meta.sha256 or ready.meta.rel_path, ready)
        if unique:
            firsts = list(unique.values())
            pixels = np.stack([r.pixels for r in firsts if r.pixels is not None])
            with bulk_priority():  # searches go first on a shared tower
                vectors = self.encoder.encode_pixels(pixels)
            for ready, vec in zip(firsts, vectors, strict=True):
                ready.embedding, ready.pixels = vec, None
            report.encoded += len(firsts)
        for ready in batch.ready:
            if ready.embedding is None:
                ready.embedding = unique[ready.meta.sha256 or ready.meta.rel_path].embedding
                ready.pixels = None
                report.reused += 1
        return [r.embedding for r in batch.ready if r.embedding is not None]

    def _report_batch(self, batch: _Batch, run: _Run) -> None:
        for failed in batch.failed:
            run.report.errors.append((failed.meta.rel_path, failed.reason))
            run.progress.error(failed.meta.rel_path, failed.reason)
        last = (batch.ready[-1] if batch.ready else batch.failed[-1]).meta.rel_path
        run.progress.advance(len(batch), current=last)

    def _maybe_save(self, last_save: float) -> float:
        """Checkpoint the FAISS file now and then (a crash costs at most a rebuild)."""
        if time.monotonic() - last_save < SAVE_EVERY_S:
            return last_save
        self._save_index()
        return time.monotonic()

    def _save_index(self) -> None:
        """Save FAISS tagged with the generation it now matches (single writer: exact)."""
        self.store.save_current(self.library.index_generation())


def decode_file(
    item: ScannedFile, model_size: int, max_pixels: int
) -> tuple[PhotoMeta, DecodedImage | str]:
    """Hash + decode + EXIF of one file: (meta, decoded), or (meta, human reason) if bad.

    Shared by the indexer's decode threads and the cluster packer's CPU workers
    (`build_engines.pack`), so a pack and an on-box index decode a photo identically.
    """
    meta = PhotoMeta(rel_path=item.rel_path, size=item.size, mtime_ns=item.mtime_ns)
    try:
        meta = replace(meta, sha256=scanner.sha256_file(item.abs_path))
        decoded = decode_image(item.abs_path, model_size, THUMB_SIZE, max_pixels)
    except ImageDecodeError as exc:
        return meta, str(exc)
    except OSError as exc:
        return meta, f"cannot read file ({exc.strerror or exc})"
    for note in decoded.notes:
        log.info("%s: %s", item.rel_path, note)
    return _meta_from(meta, decoded, None), decoded


def _meta_from(meta: PhotoMeta, decoded: DecodedImage, thumb_path: str | None) -> PhotoMeta:
    exif = decoded.exif
    return replace(
        meta,
        width=decoded.width,
        height=decoded.height,
        taken_at=datetime.fromisoformat(exif.taken_at) if exif.taken_at else None,
        camera_make=exif.camera_make,
        camera_model=exif.camera_model,
        gps_lat=exif.gps_lat,
        gps_lon=exif.gps_lon,
        orientation=exif.orientation,
        thumb_path=thumb_path,
    )
