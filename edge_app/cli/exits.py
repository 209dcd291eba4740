"""Exit codes of ``edge-app`` and the signal handling of long commands (index, ocr).

Its own module so that subcommand modules (``cli/ocr.py``...) use them without
importing ``cli/main.py``, which imports every subcommand.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_ENGINE, EXIT_NOT_FOUND = 0, 1, 2, 3, 4
EXIT_CONFIG, EXIT_INTERRUPTED = 78, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `yes | head`


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl-C / SIGTERM ask the indexer to checkpoint instead of dying mid-batch."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        print(f"{name}: finishing the current batch, then stopping", file=sys.stderr)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
