"""Browser uploads into the library, through the same verified steps as a USB import.

Why reuse `edge_app.usb.copy`: "a final name always holds a complete, verified copy" must
hold for every way a photo arrives. Each upload is streamed to a hidden temporary name
(the scanner never sees it), hashed while written, fsynced, checked to be a photo the
indexer can decode, re-read and compared with the hash, then renamed atomically into
``imports/<YYYY-MM-DD>_upload/``. A duplicate (same sha256 as a library photo or an
earlier upload) is dropped and counted; a photo that is in the trash is restored from it
under its old id instead (``restored``); any failure removes the temporary file, so an
interrupted upload leaves nothing partial behind.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from edge_app.errors import EdgeError, ImageDecodeError, ImportSessionError
from edge_app.indexing.imaging import IMAGE_EXTENSIONS, decode_image
from edge_app.settings import Settings
from edge_app.usb.copy import (
    TEMP_PREFIX,
    TEMP_SUFFIX,
    SourceReadError,
    copy_stream,
    free_name,
    fsync_dir,
    remove_stale_temps,
    sha256_file,
)

log = logging.getLogger(__name__)

UPLOAD_LABEL = "upload"
_UNSAFE = re.compile(r"[^\w.\- ()]+")
_MAX_NAME = 120
_CHECK_SIZE = 64  # decode at a tiny size: enough to prove the indexer can read the file


class UploadRejectedError(EdgeError):
    """One uploaded file cannot enter the library; the message says why, for people."""


@dataclass(frozen=True)
class UploadOutcome:
    """What happened to one uploaded file: ``saved``, ``duplicate``, ``restored`` (it was
    in the trash: back under its old id and path, ``rel_path``) or ``error``."""

    name: str
    status: str
    size: int = 0
    rel_path: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "size": self.size,
            "rel_path": self.rel_path,
            "error": self.error,
        }


def safe_name(client_name: str) -> str:
    """The file's own name without folders (a dropped folder sends ``a/b/IMG.jpg``), made
    safe for the disk; a name with nothing left becomes ``photo``."""
    base = re.split(r"[\\/]", client_name or "")[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = stem[:_MAX_NAME] or "photo"
    return f"{stem}.{ext.lower()}" if ext else stem


def check_extension(name: str) -> None:
    """Only types the indexer reads; raises `UploadRejectedError` naming the allowed ones."""
    suffix = Path(name).suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        allowed = ", ".join(sorted(IMAGE_EXTENSIONS))
        shown = suffix or "no extension"
        raise UploadRejectedError(f"{shown} is not a photo type this box indexes ({allowed})")


def upload_dir(settings: Settings, today: date) -> Path:
    """``imports/<YYYY-MM-DD>_upload``: one dated folder per day for browser uploads."""
    imports = settings.imports_dir
    if not imports.resolve().is_relative_to(settings.library_dir.resolve()):
        raise ImportSessionError(
            f"imports_dir {imports} is outside library_dir {settings.library_dir}: "
            "uploaded photos could not be indexed; fix the settings"
        )
    folder = imports / f"{today.isoformat()}_{UPLOAD_LABEL}"
    folder.mkdir(parents=True, exist_ok=True, mode=0o750)
    return folder


class _TooBig(Exception):
    """Raised from the byte counter to stop copying at the size limit."""


class UploadLedger:
    """Hashes saved by this process but maybe not indexed yet, under one lock.

    Why: two uploads of the same bytes a second apart both miss the library (the indexer
    has not run yet); the ledger makes the second one a counted duplicate.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._recent: dict[str, Path] = {}

    def seen(self, sha: str) -> bool:
        path = self._recent.get(sha)
        return path is not None and path.is_file()

    def add(self, sha: str, path: Path) -> None:
        self._recent[sha] = path


class UploadSaver:
    """Saves uploaded streams into today's upload folder; one per request."""

    def __init__(
        self,
        settings: Settings,
        known_sha: Callable[[str], bool],
        ledger: UploadLedger,
        today: date | None = None,
        restore_trashed: Callable[[str], str | None] = lambda _sha: None,
    ) -> None:
        """``known_sha``: a photo in the library (not trashed) holds these bytes;
        ``restore_trashed``: bring back the trashed photo holding them, its path or None."""
        self.settings = settings
        self.known_sha = known_sha
        self.restore_trashed = restore_trashed
        self.ledger = ledger
        self.dest = upload_dir(settings, today or date.today())
        remove_stale_temps(self.dest)

    def save(self, stream: IO[bytes], client_name: str, max_bytes: int) -> UploadOutcome:
        """Save one file; bad input becomes an ``error`` outcome, never a partial file.

        Raises only for problems of the box itself (`ImportSessionError`: library disk)
        or of the connection (the exception from ``stream``), after removing the temp.
        """
        name = safe_name(client_name)
        try:
            check_extension(name)
            return self._save(stream, name, max_bytes)
        except UploadRejectedError as exc:
            log.info("event=upload_rejected name=%s reason=%s", name, exc)
            return UploadOutcome(name=name, status="error", error=str(exc))

    def _save(self, stream: IO[bytes], name: str, max_bytes: int) -> UploadOutcome:
        temp = self.dest / f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
        try:
            sha, size = self._receive(stream, temp, max_bytes)
            with self.ledger.lock:
                if self.ledger.seen(sha) or self.known_sha(sha):
                    return UploadOutcome(name=name, status="duplicate", size=size)
                restored = self.restore_trashed(sha)
                if restored is not None:
                    return UploadOutcome(name, "restored", size=size, rel_path=restored)
                self._verify(temp, sha, name)
                final = self._publish(temp, name, sha)
        finally:
            temp.unlink(missing_ok=True)
        rel = final.relative_to(self.settings.library_dir).as_posix()
        log.info("event=upload_saved path=%s bytes=%d", rel, size)
        return UploadOutcome(name=name, status="saved", size=size, rel_path=rel)

    def _receive(self, stream: IO[bytes], temp: Path, max_bytes: int) -> tuple[str, int]:
        """Stream into ``temp`` (hashing), stopping as soon as the limit is passed."""
        total = 0

        def count(n: int) -> None:
            nonlocal total
            total += n
            if total > max_bytes:
                raise _TooBig

        try:
            sha, size = copy_stream(cast(BinaryIO, stream), temp, lambda: None, count)
        except _TooBig as exc:
            raise UploadRejectedError(
                f"the file is larger than the limit of {max_bytes / 1e6:.0f} MB"
            ) from exc
        except SourceReadError as exc:
            raise UploadRejectedError(f"the upload was cut off: {exc}") from exc
        if size == 0:
            raise UploadRejectedError("the file is empty")
        return sha, size

    def _verify(self, temp: Path, sha: str, name: str) -> None:
        """A photo the indexer can decode (type by content, not by the name or the
        browser's MIME type), and the bytes on disk are the bytes received."""
        try:
            decode_image(temp, _CHECK_SIZE, _CHECK_SIZE, self.settings.max_image_pixels)
        except ImageDecodeError as exc:
            raise UploadRejectedError(f"not a readable photo: {exc}") from exc
        if sha256_file(temp) != sha:
            raise ImportSessionError(
                f"the copy of {name} on the library disk does not match what was received: "
                "check the disk"
            )

    def _publish(self, temp: Path, name: str, sha: str) -> Path:
        """Atomic rename to a free final name (``name-<sha8>.ext`` if taken); durable."""
        final = free_name(self.dest / name, sha)
        if final.exists():  # the same bytes already sit there, not indexed yet
            final = final.with_name(f"{final.stem}-{secrets.token_hex(3)}{final.suffix}")
        os.rename(temp, final)
        fsync_dir(self.dest)
        self.ledger.add(sha, final)
        return final
