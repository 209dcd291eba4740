"""The daemon's C heap (glibc malloc): few arenas, and freed memory given back to the OS.

Why: glibc gives a thread that allocates while another thread holds an arena its own
arena, up to 8 per core, and keeps what is freed in it for later. The daemon has 16
request threads (cheroot), the job worker, the batchers and the decode workers, so after
a burst of searches or a rescan of 100k rows every arena holds megabytes that nothing
uses any more, all counted in the daemon's RSS (docs/benchmarks/daemon-100k). Two
arenas are enough for 2-8 cores (a search holds an arena for microseconds), and
``malloc_trim`` after big work (a job, an idle release) hands the free pages back.
glibc's mmap threshold is left dynamic on purpose: fixed at 128 KiB (so big blocks are
mapped and returned on free) it saved only 19 MB once the weights pages were dropped,
while image searches got slower side by side (p50 77 vs 49 ms, p95 147 vs 96 ms at
100k photos: each search maps and faults in fresh pages; docs/benchmarks/daemon-100k).

Another C library (musl) has neither call: both functions then say so and do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # <malloc.h>
ARENAS = 2


@cache
def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c"))


def configure(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas; call before any thread starts (arenas made earlier
    stay). ``MALLOC_ARENA_MAX`` in the environment, when set, wins (a drop-in can tune it).

    Returns False where the C library is not glibc or the cap was not set.
    """
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        log.info("event=malloc_not_configured reason=not glibc")
        return False
    if "MALLOC_ARENA_MAX" in os.environ:
        return True
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    if mallopt(M_ARENA_MAX, arenas) != 1:
        log.warning("event=malloc_not_configured reason=mallopt refused %d arenas", arenas)
        return False
    return True


def skip_pandas() -> bool:
    """Make ``import pandas`` fail in this process, unless it is imported already.

    Why: sqlite-utils imports pandas at import time when it is installed (a development
    venv, a box shared with other software), and pandas pulls in pyarrow: 70 MB of RSS
    the daemon never uses (the appliance does not depend on pandas; library packs use
    pyarrow directly). Returns whether the import is now refused.
    """
    if "pandas" in sys.modules:
        return sys.modules["pandas"] is None
    sys.modules["pandas"] = None  # type: ignore[assignment]  # the documented way to refuse
    return True


def trim() -> bool:
    """Give free heap memory back to the OS (every arena); True if some was released."""
    malloc_trim = getattr(_libc(), "malloc_trim", None)
    if malloc_trim is None:
        return False
    malloc_trim.argtypes = [ctypes.c_size_t]
    return bool(malloc_trim(0))
