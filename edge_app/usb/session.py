"""Copy photos from a USB stick (or any folder) into the library, verified and resumable.

Why so careful: the stick is often the only copy (a class trip, a wedding card), people
pull it out whenever they like, and the library is what gets searched and backed up.
So:

* the source is only ever opened ``O_RDONLY`` (and a stick is mounted ``ro``): never modified;
* each file is written under a hidden temporary name (``.edge-import-<hex>.part``, which
  the scanner ignores as hidden) in its destination folder, fsync'd, re-read and checked
  against the size and sha256 of the bytes read from the source, and only then renamed
  atomically to its final name: a final name always holds a complete, verified copy;
* every outcome goes into ``import_files`` at once, so re-inserting the same stick (same
  ``source_key``) resumes without re-copying verified files;
* content already in the library (or copied earlier in this import) is skipped and counted;
  a photo that is in the library's trash is restored from it (old id, tags, text) instead,
  logged as skipped with the reason "restored from the trash";
* when copying ends the session leaves ``running``: from then on the source is no longer
  read and the UI shows "safe to remove", even while the copied folder is being indexed.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import BinaryIO

from edge_app.errors import EdgeError, ImportSessionError, LibraryError
from edge_app.indexing.scanner import ScannedFile, scan
from edge_app.ingest.disk import DiskSpaceError, check_free_space
from edge_app.ingest.trash import LibraryTrash
from edge_app.library.store import ImportFile, Library
from edge_app.library.store import ImportSession as SessionRow
from edge_app.settings import Settings
from edge_app.usb import copy as usb_copy
from edge_app.usb.copy import TEMP_PREFIX, TEMP_SUFFIX, SourceReadError, open_source_readonly
from edge_app.usb.detect import ImportRequest

log = logging.getLogger(__name__)

__all__ = [
    "TEMP_PREFIX",
    "TEMP_SUFFIX",
    "ImportProgress",
    "ImportSession",
    "import_dirs_to_index",
    "open_source_readonly",
    "recent_imports",
    "session_progress",
]

# errno values meaning "the device is gone or failing": interrupt, do not blame the file.
DEVICE_GONE = frozenset(
    {errno.EIO, errno.ENODEV, errno.ENXIO, errno.ENOMEDIUM, errno.ESHUTDOWN, errno.ESTALE}
)
INTERRUPTED_BY_STOP = "import stopped before it finished (stick removed or service stopped)"

SourceOpener = Callable[[Path], BinaryIO]
IndexFn = Callable[[Sequence[Path]], object]


@dataclass(frozen=True)
class ImportProgress:
    """A snapshot for the web UI; ``phase`` is scanning, copying, indexing or finished."""

    session_id: int | None
    source_key: str
    label: str | None
    dest_dir: str | None
    state: str  # running | done | interrupted | failed (import_sessions.state)
    phase: str
    found: int = 0
    copied: int = 0
    skipped_duplicate: int = 0
    failed: int = 0
    bytes_copied: int = 0
    rate_bytes_per_s: float = 0.0
    reason: str | None = None

    @property
    def safe_to_remove(self) -> bool:
        """The source is no longer read (the stick can be pulled)."""
        return self.state != "running"

    @classmethod
    def from_row(
        cls, row: SessionRow, phase: str | None = None, rate: float = 0.0
    ) -> ImportProgress:
        return cls(
            session_id=row.id,
            source_key=row.source_key,
            label=row.label,
            dest_dir=row.dest_dir,
            state=row.state,
            phase=phase or ("copying" if row.state == "running" else "finished"),
            found=row.found,
            copied=row.copied,
            skipped_duplicate=row.skipped_duplicate,
            failed=row.failed,
            bytes_copied=row.bytes_copied,
            rate_bytes_per_s=rate,
            reason=row.reason,
        )


class _Interrupted(Exception):
    """The source went away (or we were told to stop): resume later."""


class ImportSession:
    """One import run of ``request`` into ``settings.imports_dir`` (resumes by source_key)."""

    def __init__(
        self,
        library: Library,
        settings: Settings,
        request: ImportRequest,
        *,
        opener: SourceOpener = open_source_readonly,
        index: IndexFn | None = None,
        today: date | None = None,
    ) -> None:
        self._library = library
        self._settings = settings
        self._request = request
        self._opener = opener
        self._index = index
        self._today = today or date.today()
        self._stop = threading.Event()
        self._stop_reason = INTERRUPTED_BY_STOP
        self._lock = threading.Lock()
        self._row: SessionRow | None = None
        self._phase = "scanning"
        self._run_bytes = 0
        self._t0 = time.monotonic()

    # ----------------------------------------------------------------- public
    def run(self) -> ImportProgress:
        """Copy, verify, then index; returns the final snapshot.

        Raises `ImportSessionError` when the library side fails (disk full, read-only
        library): the session is then 'failed' and resumes on the next insertion.
        """
        root = usb_copy.check_source(self._request.mount_point)
        with usb_copy.exclusive(self._settings.imports_dir, self._request.source_key):
            self._open_session()
            self._copy_phase(root)
        self._index_phase()
        return self.progress()

    def cancel(self, reason: str = INTERRUPTED_BY_STOP) -> None:
        """Ask a running import to stop after the current chunk (signal-handler safe)."""
        self._stop_reason = reason
        self._stop.set()

    def cancelled(self) -> bool:
        """Whether `cancel` was called (the stick was pulled / the unit is stopping)."""
        return self._stop.is_set()

    def progress(self) -> ImportProgress:
        """Thread-safe snapshot (the web UI polls this or `session_progress`)."""
        with self._lock:
            row, phase = self._row, self._phase
        rate = self._run_bytes / max(time.monotonic() - self._t0, 1e-6)
        if row is None:
            key, label = self._request.source_key, self._request.label
            return ImportProgress(None, key, label, None, "running", phase)
        return ImportProgress.from_row(row, phase, rate)

    @property
    def dest_dir(self) -> Path:
        if self._row is None:
            raise ImportSessionError("the import session has not been opened yet")
        return self._settings.library_dir / self._row.dest_dir

    # ---------------------------------------------------------------- session
    def _open_session(self) -> None:
        """Resume the unfinished session of this source, or start a new one."""
        previous = self._library.resumable_import(self._request.source_key)
        if previous is not None:
            row = self._library.resume_import(previous.id)
            log.info("resuming import %d of %s into %s", row.id, row.source_key, row.dest_dir)
        else:
            dest = usb_copy.claim_dest_dir(self._settings, self._today, self._request.label)
            rel = dest.relative_to(self._settings.library_dir).as_posix()
            row = self._library.start_import(self._request.source_key, self._request.label, rel)
            log.info("new import %d of %s into %s", row.id, row.source_key, rel)
        self._set(row, "scanning")
        self.dest_dir.mkdir(parents=True, exist_ok=True)
        usb_copy.remove_stale_temps(self.dest_dir)

    def _copy_phase(self, root: Path) -> None:
        """Copy everything; map the outcome onto the session state."""
        try:
            self._copy_all(root)
        except _Interrupted as exc:
            self._finish("interrupted", str(exc))
        except KeyboardInterrupt:
            self._finish("interrupted", INTERRUPTED_BY_STOP)
            raise
        except Exception as exc:
            self._finish("failed", str(exc) if isinstance(exc, EdgeError) else repr(exc))
            raise
        else:
            failed = self._current().failed
            self._finish("done", f"{failed} file(s) could not be copied" if failed else None)

    def _finish(self, state: str, reason: str | None) -> None:
        row = self._library.finish_import(self._current().id, state, reason)
        if state == "done":
            usb_copy.prune_empty_dirs(self.dest_dir)
        self._set(row, "finished")
        log.info(
            "import %d %s: %d copied, %d duplicates, %d failed%s — safe to remove",
            row.id, state, row.copied, row.skipped_duplicate, row.failed,
            f" ({reason})" if reason else "",
        )  # fmt: skip

    def _index_phase(self) -> None:
        """Index the copied folder with the normal pipeline (resumable, so re-runs are cheap)."""
        row = self._current()
        if self._index is None or row.copied == 0:
            return
        self._set(row, "indexing")
        try:
            self._index([self.dest_dir])
        finally:
            self._set(row, "finished")

    # ------------------------------------------------------------------ files
    def _copy_all(self, root: Path) -> None:
        try:
            files = scan(root).files
        except LibraryError as exc:
            raise _Interrupted(f"cannot read the source {root}: {exc}") from exc
        session_id = self._current().id
        self._library.set_import_found(session_id, len(files))
        done = {
            rel
            for rel, item in self._library.import_files(session_id).items()
            if item.state in ("verified", "skipped")
        }
        self._set(self._library.get_import(session_id), "copying")
        for item in files:
            self._check_stop()
            if item.rel_path not in done:
                self._check_room(item.size)
                self._library.record_import_file(self._import_one(root, item))
                self._set(self._library.get_import(session_id), "copying")

    def _import_one(self, root: Path, item: ScannedFile) -> ImportFile:
        """Copy one file and return its outcome (raises `_Interrupted` if the stick went)."""
        outcome = ImportFile(self._current().id, item.rel_path, "failed", size=item.size)
        if item.size == 0:
            return replace(outcome, reason="empty file (0 bytes): nothing to import")
        final = self.dest_dir / item.rel_path
        temp = usb_copy.make_parent(final) / f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
        try:
            sha, size = self._copy_to_temp(item, temp)
            return self._place(outcome, item, temp, final, sha, size)
        except SourceReadError as exc:
            return replace(outcome, reason=self._source_failure(root, item, exc.cause))
        finally:
            temp.unlink(missing_ok=True)

    def _copy_to_temp(self, item: ScannedFile, temp: Path) -> tuple[str, int]:
        try:
            reader = self._opener(item.abs_path)
        except OSError as exc:
            raise SourceReadError(exc) from exc
        with reader:
            return usb_copy.copy_stream(reader, temp, self._check_stop, self._count_bytes)

    def _place(
        self, outcome: ImportFile, item: ScannedFile, temp: Path, final: Path, sha: str, size: int
    ) -> ImportFile:
        """Verify the temp copy and rename it to its final name (or skip a duplicate)."""
        outcome = replace(outcome, sha256=sha, size=size)
        if size != item.size:
            return replace(outcome, reason=f"changed while copying ({item.size} -> {size} bytes)")
        try:
            return self._verify_and_rename(outcome, item, temp, final)
        except OSError as exc:
            raise ImportSessionError(
                f"cannot finish {final} in the library: {exc.strerror or exc}; check the "
                "library disk, then plug the stick in again to resume"
            ) from exc

    def _verify_and_rename(
        self, outcome: ImportFile, item: ScannedFile, temp: Path, final: Path
    ) -> ImportFile:
        sha = outcome.sha256 or ""
        if usb_copy.sha256_file(temp) != sha or temp.stat().st_size != outcome.size:
            return replace(outcome, reason="copy did not verify (library disk or memory fault?)")
        restored = LibraryTrash(self._settings, self._library, None).restore_content(sha)
        if restored is not None:
            reason = f"restored from the trash as {restored}"
            return replace(outcome, state="skipped", dest_rel_path=restored, reason=reason)
        if self._library.sha256_known(sha):
            return replace(outcome, state="skipped", reason="already in the library")
        final = usb_copy.free_name(final, sha)
        if not final.exists():
            os.utime(temp, ns=(item.mtime_ns, item.mtime_ns))  # keep the photo's file date
            os.replace(temp, final)
            usb_copy.fsync_dir(final.parent)
        rel = final.relative_to(self._settings.library_dir).as_posix()
        return replace(outcome, state="verified", dest_rel_path=rel)

    def _source_failure(self, root: Path, item: ScannedFile, exc: OSError) -> str:
        """The file's failure reason, or raise `_Interrupted` when the stick itself is gone."""
        where = f"reading {item.rel_path} failed: {exc.strerror or exc}"
        if exc.errno in DEVICE_GONE or not usb_copy.readable_dir(root):
            raise _Interrupted(
                f"{where}: the stick was removed or is failing; plug it in again to resume"
            )
        if isinstance(exc, FileNotFoundError):
            return "the file disappeared from the source during the import"
        return where

    # --------------------------------------------------------------- plumbing
    def _check_room(self, incoming: int) -> None:
        """Pause (session "interrupted", resumable) before the disk-free floor is crossed."""
        try:
            check_free_space(self.dest_dir, self._settings.min_free_disk_bytes, incoming)
        except DiskSpaceError as exc:
            raise _Interrupted(str(exc).replace("try again", "plug the stick in again")) from exc

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Interrupted(self._stop_reason)

    def _count_bytes(self, n: int) -> None:
        self._run_bytes += n

    def _current(self) -> SessionRow:
        if self._row is None:
            raise ImportSessionError("the import session has not been opened yet")
        return self._row

    def _set(self, row: SessionRow, phase: str) -> None:
        with self._lock:
            self._row, self._phase = row, phase


# ------------------------------------------------------------------ helpers
def session_progress(library: Library, session_id: int) -> ImportProgress:
    """Progress of any session from the database (works across processes: the web UI)."""
    return ImportProgress.from_row(library.get_import(session_id))


def recent_imports(library: Library, limit: int = 20) -> list[ImportProgress]:
    """Newest sessions first, for the web UI's import page."""
    return [ImportProgress.from_row(row) for row in library.list_imports(limit)]


def import_dirs_to_index(library: Library, settings: Settings, limit: int = 50) -> list[Path]:
    """Folders of finished imports that copied files: what the daemon indexes on SIGHUP."""
    dirs = [
        settings.library_dir / row.dest_dir
        for row in library.list_imports(limit)
        if row.state != "running" and row.copied > 0
    ]
    return [d for d in dirs if d.is_dir()]
