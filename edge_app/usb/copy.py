"""Verified, atomic file copies for the USB importer (the byte-level half of it).

Why a module of its own: these are the steps that make "a final name always holds a
complete, verified copy" true — hidden temp names, fsync of file and directory, re-read
verification, atomic rename, per-source locking — and they are easier to review and test
apart from the session bookkeeping in `edge_app.usb.session`.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import BinaryIO

from edge_app.errors import ImportSessionError
from edge_app.settings import Settings

log = logging.getLogger(__name__)

TEMP_PREFIX = ".edge-import-"  # dot: hidden, so the scanner/indexer never sees partial files
TEMP_SUFFIX = ".part"
CHUNK_BYTES = 1 << 20


class SourceReadError(Exception):
    """Opening or reading one source file failed; ``cause`` is the OSError."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def open_source_readonly(path: Path) -> BinaryIO:
    """Open a source file read-only, refusing a symlink swapped in after the scan."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    return os.fdopen(fd, "rb")


def check_source(mount_point: Path) -> Path:
    if not readable_dir(mount_point):
        raise ImportSessionError(
            f"cannot read the source folder {mount_point}: is the stick mounted / the path right?"
        )
    return mount_point.resolve()


def readable_dir(path: Path) -> bool:
    try:
        with os.scandir(path) as it:
            next(it, None)
    except OSError:
        return False
    return True


@contextmanager
def exclusive(imports_dir: Path, source_key: str) -> Iterator[None]:
    """One importer per source at a time (a second `edge-app import` of it fails fast)."""
    imports_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(source_key.encode()).hexdigest()[:16]
    lock_path = imports_dir / f"{TEMP_PREFIX}{digest}.lock"
    with open(lock_path, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ImportSessionError(
                f"{source_key} is already being imported by another process; wait for it"
            ) from exc
        yield


def claim_dest_dir(settings: Settings, today: date, label: str) -> Path:
    """``imports/<YYYY-MM-DD>_<label>``, with ``_2``, ``_3``... if that name is taken."""
    imports = settings.imports_dir
    if not imports.resolve().is_relative_to(settings.library_dir.resolve()):
        raise ImportSessionError(
            f"imports_dir {imports} is outside library_dir {settings.library_dir}: "
            "imported photos could not be indexed; fix the settings"
        )
    imports.mkdir(parents=True, exist_ok=True)
    base = f"{today.isoformat()}_{label}"
    for n in range(1, 10_000):
        candidate = imports / (base if n == 1 else f"{base}_{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise ImportSessionError(f"too many imports named {base} in {imports}: tidy that folder")


def copy_stream(
    reader: BinaryIO, temp: Path, check_stop: Callable[[], None], count: Callable[[int], None]
) -> tuple[str, int]:
    """Stream source -> temp, hashing the bytes read; fsync before returning.

    Source read errors become `SourceReadError`; destination errors become
    `ImportSessionError` (the library disk is the problem, not the photo).
    """
    digest, size = hashlib.sha256(), 0
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
        with os.fdopen(fd, "wb") as out:
            for chunk in read_chunks(reader, check_stop):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
                count(len(chunk))
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise ImportSessionError(
            f"cannot write {temp.parent}: {exc.strerror or exc}; free space or fix permissions "
            "on the library disk, then plug the stick in again to resume"
        ) from exc
    return digest.hexdigest(), size


def read_chunks(reader: BinaryIO, check_stop: Callable[[], None]) -> Iterator[bytes]:
    while True:
        check_stop()
        try:
            chunk = reader.read(CHUNK_BYTES)
        except OSError as exc:
            raise SourceReadError(exc) from exc
        if not chunk:
            return
        yield chunk


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def free_name(final: Path, sha: str) -> Path:
    """Keep ``final`` if free or already holding this content; else ``name-<sha8>.ext``."""
    if not final.exists() or sha256_file(final) == sha:
        return final
    return final.with_name(f"{final.stem}-{sha[:8]}{final.suffix}")


def make_parent(final: Path) -> Path:
    try:
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as exc:
        raise ImportSessionError(f"cannot create {final.parent}: {exc.strerror or exc}") from exc
    return final.parent


def fsync_dir(path: Path) -> None:
    """Make the rename durable: a power cut must not lose a file we called verified."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temps(dest_dir: Path) -> None:
    """Partial copies left by a crash or a pulled stick: never valid, always removable."""
    for stale in dest_dir.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        log.info("removing partial copy %s from an earlier interrupted import", stale)
        stale.unlink(missing_ok=True)


def prune_empty_dirs(top: Path) -> None:
    """Drop folders an import left empty (all duplicates, or only failures), ``top`` too.

    Why: an "imports/2024-05-01_PHOTOS_2" folder with nothing in it only confuses people
    browsing the library. Non-empty folders are left alone (rmdir refuses them).
    """
    if not top.is_dir():
        return
    for folder in sorted((p for p in top.rglob("*") if p.is_dir()), reverse=True):
        _rmdir_if_empty(folder)
    _rmdir_if_empty(top)


def _rmdir_if_empty(folder: Path) -> None:
    if not any(folder.iterdir()):
        folder.rmdir()
