"""Give back the resident pages of a weights file that the runtime has finished reading.

Why: OpenVINO maps the IR's ``.bin`` file and, at the first inference, the CPU plugin
packs every weight into its own blocked copy (anonymous memory); after that it does not
read the mapping again, yet the pages it read stay resident and count in the process's
RSS: 143 MB of the served daemon's 806 MB with the ViT-B/32 towers
(docs/benchmarks/daemon-100k). ``MADV_DONTNEED`` on a read-only file mapping drops them
from this process only: the file is untouched, the kernel keeps the data as reclaimable
page cache, and a later read (if any) faults the page back in from the file. So the
advice can never change a result; at worst a page is read again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import mmap
import os
from functools import cache
from pathlib import Path

from engines.errors import EngineError

log = logging.getLogger(__name__)

MAPS = Path("/proc/self/maps")


@cache
def _madvise() -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fn = libc.madvise
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


def read_only_ranges(path: Path, maps_text: str) -> list[tuple[int, int]]:
    """(start, end) of every mapping of ``path`` that cannot be written, from a
    ``/proc/PID/maps`` text (a writable private mapping may hold changed pages: never)."""
    target = str(path.resolve())
    ranges = []
    for line in maps_text.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) < 6 or parts[5] != target or "w" in parts[1]:
            continue
        start, _, end = parts[0].partition("-")
        ranges.append((int(start, 16), int(end, 16)))
    return ranges


def drop_resident_pages(path: Path) -> int:
    """Advise the kernel that this process no longer needs the resident pages of its
    read-only mappings of ``path``; returns the bytes of mapping advised (0 where the
    system has no ``/proc/self/maps`` or no ``MADV_DONTNEED``: not Linux)."""
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is None or not MAPS.is_file():
        log.debug("no /proc/self/maps or MADV_DONTNEED here: %s stays resident", path)
        return 0
    total = 0
    for start, end in read_only_ranges(path, MAPS.read_text()):
        if _madvise()(start, end - start, advice) != 0:
            err = ctypes.get_errno()
            if err == errno.ENOMEM:  # unmapped since /proc was read: nothing left to drop
                continue
            raise EngineError(
                f"madvise(MADV_DONTNEED) on the mapping of {path} failed: {os.strerror(err)}"
            )
        total += end - start
    return total
