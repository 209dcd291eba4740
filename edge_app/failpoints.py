"""Fault injection for crash-safety tests (the failpoint pattern).

``EDGE_TEST_KILL_AT=POINT`` or ``POINT:N`` makes the process send itself SIGKILL (or
``SIG$EDGE_TEST_KILL_SIGNAL``) when code reaches ``failpoint(POINT, N)``, so a test can
prove that a ``kill -9`` at that exact instant loses and duplicates nothing. Points used:
the indexer's ``after-scan``, ``mid-batch:N`` (encoded, not committed) and
``after-commit:N`` (committed, FAISS not updated). Never set in production: unset, a
failpoint is one dictionary lookup.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

KILL_HOOK_ENV = "EDGE_TEST_KILL_AT"
KILL_SIGNAL_ENV = "EDGE_TEST_KILL_SIGNAL"


def failpoint(point: str, number: int = 0) -> None:
    """Die like ``kill -9`` here when the environment names this point (tests only)."""
    wanted = os.environ.get(KILL_HOOK_ENV, "")
    if not wanted or wanted not in (point, f"{point}:{number}"):
        return
    sig = signal.Signals["SIG" + os.environ.get(KILL_SIGNAL_ENV, "KILL")]
    log.warning("%s=%s: sending %s to itself (failpoint)", KILL_HOOK_ENV, wanted, sig.name)
    os.kill(os.getpid(), sig)
