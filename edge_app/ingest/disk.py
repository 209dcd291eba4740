"""The disk-free floor: imports and uploads pause before they fill the library disk.

Why a floor and not just ENOSPC handling: SQLite's WAL, the FAISS index and thumbnails
need room to finish what is already in flight; a disk filled to the last byte by a USB
stick makes the whole box fail at once. Below ``min_free_disk_bytes`` new bytes are
refused with a message that says what to do; nothing already copied is touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from edge_app.errors import EdgeError


class DiskSpaceError(EdgeError):
    """Storing more would take the library disk below its free-space floor."""


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding `path` (its nearest existing ancestor)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB"


def check_free_space(path: Path, floor: int, incoming: int = 0) -> None:
    """Raise `DiskSpaceError` when storing `incoming` bytes at `path` would leave less
    than `floor` bytes free."""
    free = free_bytes(path)
    if free - incoming < floor:
        raise DiskSpaceError(
            f"the library disk has {_mb(free)} free and must keep {_mb(floor)} "
            f"(min_free_disk_bytes); imports are paused: empty the trash or remove photos, "
            "then try again (nothing already imported was lost)"
        )
