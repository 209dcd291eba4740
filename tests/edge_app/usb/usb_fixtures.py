"""Shared helpers for the USB import tests: a realistic stick tree and named fakes.

The "stick" is a real directory of real JPEGs (drawn by `build_engines.shapes`) standing in
for a mounted USB filesystem. The only fakes are source *readers* that misbehave the
way a pulled or failing stick does; they wrap real open files and say so in their names.
"""

from __future__ import annotations

import errno
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from build_engines.shapes import random_specs, render
from edge_app.usb.session import open_source_readonly

# rel path -> index of the drawn photo; equal indexes = byte-identical duplicates
STICK_PHOTOS = {
    "DCIM/100CANON/IMG_0001.JPG": 0,
    "DCIM/100CANON/IMG_0002.JPG": 1,
    "DCIM/100CANON/IMG_0003.JPG": 2,
    "Trip/Day 1/beach.jpg": 3,
    "Trip/Day 1/sunset.jpeg": 4,
    "Trip/Day 2/copy of beach.jpg": 3,  # duplicate of Trip/Day 1/beach.jpg
    "portrait.png": 5,
}
JUNK = {
    ".Trashes/501/deleted.jpg": 6,
    "System Volume Information/thumb.jpg": 7,
    "DCIM/._IMG_0001.JPG": 8,
    ".hidden/secret.jpg": 9,
}
CORRUPT = "broken.jpg"
EMPTY = "empty.jpg"


def write_stick(root: Path) -> Path:
    """Build the stick tree; returns ``root``."""
    specs = random_specs(12, seed=7)
    for rel, n in {**STICK_PHOTOS, **JUNK}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = "PNG" if rel.endswith(".png") else "JPEG"
        buf = io.BytesIO()
        render(specs[n], size=(96, 96)).save(buf, format=fmt)
        path.write_bytes(buf.getvalue())
    (root / CORRUPT).write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 20)
    (root / EMPTY).write_bytes(b"")
    (root / "notes.txt").write_text("not a photo")
    return root


def expected_copies() -> set[str]:
    """Source paths that must end up in the library (first of each duplicate, corrupt too)."""
    seen: set[int] = set()
    out = {CORRUPT}
    for rel, n in sorted(STICK_PHOTOS.items()):
        if n not in seen:
            seen.add(n)
            out.add(rel)
    return out


def tree_state(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry's (mtime_ns, size, sha256 or '') : proves the source was untouched."""
    state = {}
    for path in sorted([root, *root.rglob("*")]):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        state[path.relative_to(root).as_posix()] = (st.st_mtime_ns, st.st_size, digest)
    return state


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class FaultInjectingReader(io.RawIOBase):
    """FAKE: a real open source file that raises OSError(EIO) once ``budget`` bytes are read.

    Stands in for a stick pulled (or a flash cell dying) in the middle of a file.
    """

    def __init__(self, real: BinaryIO, budget: list[int]) -> None:
        self._real = real
        self._budget = budget  # shared across files: bytes left before the "failure"

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._budget[0] <= 0:
            raise OSError(errno.EIO, "Input/output error (injected)")
        chunk = self._real.read(min(size, self._budget[0]) if size > 0 else self._budget[0])
        self._budget[0] -= len(chunk)
        return chunk

    def close(self) -> None:
        self._real.close()
        super().close()


def fault_injecting_opener(fail_after_bytes: int) -> Callable[[Path], BinaryIO]:
    """FAKE source opener: reads fail with EIO after ``fail_after_bytes`` in total."""
    budget = [fail_after_bytes]

    def opener(path: Path) -> BinaryIO:
        return FaultInjectingReader(open_source_readonly(path), budget)  # type: ignore[return-value]

    return opener


def recording_opener(opened: list[str], root: Path) -> Callable[[Path], BinaryIO]:
    """The real read-only opener that also records which files were opened."""

    def opener(path: Path) -> BinaryIO:
        opened.append(path.relative_to(root).as_posix())
        return open_source_readonly(path)

    return opener


def hook_opener(hook: Callable[[Path], None]) -> Callable[[Path], BinaryIO]:
    """The real opener, calling ``hook(path)`` first (deletes a file, cancels, ...)."""

    def opener(path: Path) -> BinaryIO:
        hook(path)
        return open_source_readonly(path)

    return opener
