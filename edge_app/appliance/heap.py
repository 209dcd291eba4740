"""The daemon's C heap (glibc malloc): few arenas, and freed memory given back to the OS.

Why: glibc gives a thread that allocates while another thread holds an arena its own
arena, up to 8 per core, and keeps what is freed in it for later. The daemon has 16
request threads (cheroot), the job worker, the batchers and the decode workers, so after
a burst of searches or a rescan of 100k rows every arena holds megabytes that nothing
uses any more, all counted in the daemon's RSS (docs/benchmarks/daemon-100k). Two
arenas are enough for 2-8 cores (a search holds an arena for microseconds). Blocks of
128 KiB and more (decoded photos, pixel batches, query results) get their own mapping,
returned to the OS when freed: glibc's default raises that threshold up to 32 MiB after
the first such free, after which they stay in the arenas. ``malloc_trim`` after big
work (a job, an idle release) hands back the rest. Measured at 100k photos: 688 -> 607
MB (2 arenas) -> 560 MB (and the fixed threshold).

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

M_MMAP_THRESHOLD = -3  # <malloc.h>
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 128 * 1024  # glibc's initial default, fixed (no dynamic raise)


@cache
def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c"))


def configure(arenas: int = ARENAS, mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """Cap glibc's malloc arenas and fix its mmap threshold; call before any thread
    starts (arenas made earlier stay). The environment's ``MALLOC_ARENA_MAX`` /
    ``MALLOC_MMAP_THRESHOLD_``, when set, win (a drop-in can tune them).

    Returns False where the C library is not glibc (nothing is then set).
    """
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        log.info("event=malloc_not_configured reason=not glibc")
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    wanted = {
        "MALLOC_ARENA_MAX": (M_ARENA_MAX, arenas),
        "MALLOC_MMAP_THRESHOLD_": (M_MMAP_THRESHOLD, mmap_threshold),
    }
    for env, (param, value) in wanted.items():
        if env not in os.environ and mallopt(param, value) != 1:
            log.warning("event=malloc_not_configured reason=mallopt refused %s=%d", env, value)
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
