"""Import a library pack: rows, vectors, OCR text and thumbnails, without encoding anything.

Shape of a run (`PackImporter.run`)::

    pack.json -> same bundle + precision? -> every shard and thumbnail checksum
      -> photos reachable (in the pack, or on the mapped root)?      (nothing written yet)
      -> per shard, batches of `batch_rows`: copy + verify photo files (included packs),
         thumbnails into the box's cache, then ONE transaction: photos + embeddings +
         OCR lines + the shard's progress counter -> FAISS add; index saved at the end

Why this is safe to ``kill -9``: a batch's rows and its progress counter commit together,
so a restart skips exactly the committed rows; files are renamed into place only once
verified, and a row whose key exists is updated, never doubled. Memory is one batch.
Content already in the library elsewhere (the same photos in another pack, or indexed on
the box) is counted as a duplicate and skipped, as a USB import would skip it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_app.errors import NotFoundError, PackError
from edge_app.failpoints import failpoint
from edge_app.indexing.imaging import write_thumbnail
from edge_app.indexing.progress import Progress
from edge_app.indexing.roots import add_user_root, find_root
from edge_app.library.pack_log import ShardProgress
from edge_app.library.records import PhotoMeta
from edge_app.library.roots import key_prefix
from edge_app.library.store import Library
from edge_app.packs import verify
from edge_app.packs.format import INCLUDED, PackManifest, ShardEntry, ocr_rows, row_meta
from edge_app.search import places
from edge_app.search.index_store import IndexStore
from edge_app.settings import Settings
from edge_app.usb.copy import (
    TEMP_PREFIX,
    TEMP_SUFFIX,
    SourceReadError,
    copy_stream,
    make_parent,
    open_source_readonly,
)  # fmt: skip

if TYPE_CHECKING:
    from edge_app.context import AppContext
    from engines.clip_encoder import ClipEncoder

log = logging.getLogger(__name__)

BATCH_ROWS = 512


@dataclass
class PackReport:
    pack_id: str
    rows: int = 0
    added: int = 0
    duplicates: int = 0
    skipped_done: int = 0  # committed by an earlier, interrupted run
    batches: int = 0
    failed_on_host: int = 0
    stopped: bool = False
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "failures"}
        out["failures"] = [{"path": p, "reason": r} for p, r in self.failures]
        return out


@dataclass(frozen=True)
class _Placement:
    """Where the pack's photos live on the box, and how their library keys look."""

    source: Path  # folder holding rel_paths as the box reads them
    prefix: str  # library-key prefix of this pack's photos
    dest: Path | None  # included packs: copy into this library folder


class PackImporter:
    """Adds a pack's photos to the library through its one writer (one run at a time)."""

    def __init__(
        self, settings: Settings, library: Library, store: IndexStore, box: verify.BoxEngine,
        batch_rows: int = BATCH_ROWS,
    ) -> None:  # fmt: skip
        self.settings, self.library, self.store, self.box = settings, library, store, box
        self.batch_rows = batch_rows

    def run(
        self, pack_dir: Path, root_map: Path | None = None,
        progress: Progress | None = None, stop_event: threading.Event | None = None,
    ) -> PackReport:  # fmt: skip
        """Verify everything, then import (resuming where an earlier run stopped)."""
        progress = progress or Progress()
        try:
            return self._run(pack_dir, root_map, progress, stop_event or threading.Event())
        except BaseException as exc:
            progress.finish("failed", message=str(exc))
            raise

    def _run(
        self, pack_dir: Path, root_map: Path | None, progress: Progress, stop: threading.Event
    ) -> PackReport:
        started = time.monotonic()
        progress.start("scanning")  # verifying checksums
        manifest = PackManifest.load(pack_dir)
        verify.check_engine(manifest, self.box)
        verify.verify_shards(pack_dir, manifest)
        verify.verify_thumbs(pack_dir, manifest)
        placement = self._place(pack_dir, manifest, root_map)
        report = PackReport(manifest.pack_id, failed_on_host=len(manifest.failures))
        report.failures = list(manifest.failures)
        progress.set_total(sum(s.rows for s in manifest.shards))
        done = self.library.pack_progress(manifest.pack_id)
        for shard in manifest.shards:
            if not self._shard(pack_dir, manifest, shard, placement, done, report, progress, stop):
                report.stopped = True
                break
        self.store.save_current(self.library.index_generation())
        report.seconds = round(time.monotonic() - started, 3)
        progress.finish("stopped" if report.stopped else "done")
        return report

    def _place(self, pack_dir: Path, manifest: PackManifest, root_map: Path | None) -> _Placement:
        source = verify.photo_source(pack_dir, manifest, root_map)
        if manifest.photos_mode == INCLUDED:
            imports, library = self.settings.imports_dir, self.settings.library_dir
            parent = imports if imports.is_relative_to(library) else library / "imports"
            dest = parent / f"pack-{manifest.pack_id[:12]}"
            return _Placement(source, dest.relative_to(library).as_posix() + "/", dest)
        try:
            root = find_root(self.library.list_roots(), str(source.resolve()))
        except NotFoundError:
            root = add_user_root(self.library, self.settings, source)
        return _Placement(source, key_prefix(root.id), None)

    # ------------------------------------------------------------------ shards
    def _shard(
        self, pack_dir: Path, manifest: PackManifest, shard: ShardEntry, place: _Placement,
        done: dict[str, ShardProgress], report: PackReport, progress: Progress,
        stop: threading.Event,
    ) -> bool:  # fmt: skip
        """Import one shard batch by batch; False when asked to stop."""
        import pyarrow.parquet as pq

        state = done.get(shard.path, ShardProgress())
        report.skipped_done += state.rows_done
        progress.advance(state.rows_done)
        offset = 0
        reader = pq.ParquetFile(verify.shard_path(pack_dir, shard))
        for batch in reader.iter_batches(batch_size=self.batch_rows):
            rows = batch.to_pylist()
            start, offset = offset, offset + len(rows)
            if offset <= state.rows_done:
                continue
            if stop.is_set():
                return False
            rows = rows[max(0, state.rows_done - start) :]
            state = self._batch(pack_dir, manifest, shard, place, rows, state, report)
            progress.advance(len(rows), current=rows[-1]["rel_path"])
        return True

    def _batch(
        self, pack_dir: Path, manifest: PackManifest, shard: ShardEntry, place: _Placement,
        rows: list[dict[str, Any]], state: ShardProgress, report: PackReport,
    ) -> ShardProgress:  # fmt: skip
        """Files first (verified, renamed into place), then ONE transaction, then FAISS."""
        fresh = self._not_duplicates(rows, place)
        with ThreadPoolExecutor(verify.IO_THREADS, "pack-files") as pool:  # file I/O bound
            metas = list(pool.map(lambda row: self._photo(pack_dir, place, row), fresh))
        metas = places.with_places(metas)  # the box names places, like its own indexer
        items = list(zip(metas, fresh, strict=True))
        state = ShardProgress(
            state.rows_done + len(rows), state.added + len(items),
            state.duplicates + len(rows) - len(items),
        )  # fmt: skip
        number = report.batches + 1
        failpoint("pack-mid-batch", number)  # files in place, nothing committed
        with self.library.transaction():
            ids = self.library.record_photos(
                [(meta, np.asarray(row["embedding"], np.float32)) for meta, row in items],
                manifest.bundle_id,
            )
            for photo_id, (meta, row) in zip(ids, items, strict=True):
                if row["ocr_state"]:
                    self.library.record_ocr(
                        photo_id, meta.sha256, row["ocr_state"], ocr_rows(row["ocr_lines"]),
                        engine=manifest.ocr_engine,
                    )  # fmt: skip
            self.library.set_pack_progress(manifest.pack_id, shard.path, state)
        failpoint("pack-after-commit", number)  # committed, FAISS not updated: rebuilt on open
        if ids:
            vectors = np.stack([np.asarray(r["embedding"], np.float32) for _, r in items])
            self.store.current().add(np.asarray(ids), vectors)
        report.rows += len(rows)
        report.batches = number
        report.added += len(items)
        report.duplicates += len(rows) - len(items)
        return state

    def _not_duplicates(
        self, rows: list[dict[str, Any]], place: _Placement
    ) -> list[dict[str, Any]]:
        """Rows whose content is not in the library yet, except under this pack's own keys."""
        known = self.library.paths_by_sha256([str(r["sha256"]) for r in rows])
        return [
            r for r in rows
            if not any(not key.startswith(place.prefix) for key in known.get(str(r["sha256"]), []))
        ]  # fmt: skip

    def _photo(self, pack_dir: Path, place: _Placement, row: dict[str, Any]) -> PhotoMeta:
        rel = verify.check_rel_path(str(row["rel_path"]))
        if place.dest is not None:
            _copy_verified(place.source / rel, place.dest / rel, row)
        thumb = None
        if row["thumb_sha256"]:
            data = verify.thumb_file(pack_dir, str(row["sha256"])).read_bytes()
            thumb = write_thumbnail(self.settings.thumbs_dir, str(row["sha256"]), data)
        return row_meta(row, place.prefix + rel, thumb)


def _copy_verified(src: Path, final: Path, row: dict[str, Any]) -> None:
    """Copy a photo into the library: hashed while copied, renamed into place when right.

    Its mtime is set to the one recorded on the host, so the box's own scanner sees an
    unchanged file (size + mtime) and never encodes it again.
    """
    mtime = int(row["mtime_ns"])
    if (
        final.is_file()
        and final.stat().st_size == row["size"]
        and final.stat().st_mtime_ns == mtime
    ):
        return  # renamed into place by an earlier, interrupted run (only verified copies are)
    temp = make_parent(final) / f"{TEMP_PREFIX}{final.name}{TEMP_SUFFIX}"
    temp.unlink(missing_ok=True)
    try:
        with open_source_readonly(src) as reader:
            sha, _ = copy_stream(reader, temp, lambda: None, lambda n: None)
    except (OSError, SourceReadError) as exc:
        temp.unlink(missing_ok=True)
        raise PackError(f"cannot read {src} from the pack ({exc}): copy the pack again") from exc
    if sha != row["sha256"]:
        temp.unlink(missing_ok=True)
        raise PackError(
            f"{src} does not match its checksum in the pack: copy the pack again and re-run "
            "`edge-app import-pack` (what was imported so far is kept)"
        )
    os.utime(temp, ns=(mtime, mtime))
    os.replace(temp, final)


def box_engine(encoder: ClipEncoder) -> verify.BoxEngine:
    """What this box encodes with (the image tower decides the vector space)."""
    info = encoder.image_runner.describe()
    return verify.BoxEngine(encoder.bundle_id, info["backend"], info["precision"], encoder.dim)


def import_pack(
    ctx: AppContext, pack_dir: Path, root_map: Path | None = None,
    progress: Progress | None = None, stop_event: threading.Event | None = None,
) -> PackReport:  # fmt: skip
    """`edge-app import-pack` and the daemon's job: through the context's one writer."""
    importer = PackImporter(ctx.settings, ctx.library, ctx.store, box_engine(ctx.encoder))
    return importer.run(Path(pack_dir), root_map, progress, stop_event)
