"""Indexing progress (live, thread-safe) and the report of a finished run.

The indexer updates one `Progress` from its writer thread; web requests read
`Progress.snapshot()` from other threads, so every field is guarded by one lock and a
snapshot is a plain, JSON-ready dict copied under it. The rate is measured over a sliding
window (not since the start) so the ETA follows the real speed after a slow start
(model warm-up, a folder of 48 MP photos).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm import tqdm

__all__ = ["STATES", "IndexReport", "Progress", "TqdmBar"]

STATES = ("idle", "scanning", "indexing", "done", "failed", "stopped")
_WINDOW_S = 20.0
_MAX_RECENT_ERRORS = 20

Listener = Callable[[dict[str, Any]], None]


class Progress:
    """Progress of one indexing run at a time (a new `start` resets it)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._listeners: list[Listener] = []
        self._reset("idle")

    def _reset(self, state: str) -> None:
        self._state = state
        self._done = 0
        self._total = 0
        self._errors = 0
        self._current: str | None = None
        self._message: str | None = None
        self._recent_errors: deque[dict[str, str]] = deque(maxlen=_MAX_RECENT_ERRORS)
        self._samples: deque[tuple[float, int]] = deque()
        self._started = self._clock()

    def start(self, state: str = "scanning") -> None:
        """Begin a run: counters reset, clock restarts."""
        with self._lock:
            self._reset(_checked(state))
        self._notify()

    def set_total(self, total: int, state: str = "indexing") -> None:
        """The work is known (after the scan): switch to ``state``."""
        with self._lock:
            self._total, self._state = total, _checked(state)
            self._samples.append((self._clock(), self._done))
        self._notify()

    def advance(self, n: int = 1, current: str | None = None) -> None:
        """``n`` more files finished (indexed, reused or failed)."""
        with self._lock:
            self._done += n
            self._current = current if current is not None else self._current
            self._record_sample()
        self._notify()

    def error(self, path: str, reason: str) -> None:
        """A file failed; counted and kept (the last few) for the UI."""
        with self._lock:
            self._errors += 1
            self._recent_errors.append({"path": path, "reason": reason})

    def finish(self, state: str = "done", message: str | None = None) -> None:
        """End of run: ``done``, ``stopped`` (checkpointed on request) or ``failed``."""
        with self._lock:
            self._state, self._message, self._current = _checked(state), message, None
        self._notify()

    def add_listener(self, listener: Listener) -> None:
        """Called with a snapshot after every change (the CLI's progress bar)."""
        with self._lock:
            self._listeners.append(listener)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy: state, done, total, errors, rate, eta_s, current, ..."""
        with self._lock:
            rate = self._rate()
            remaining = max(0, self._total - self._done)
            return {
                "state": self._state,
                "done": self._done,
                "total": self._total,
                "errors": self._errors,
                "rate": round(rate, 3),
                "eta_s": round(remaining / rate, 1) if rate > 0 and remaining else None,
                "current": self._current,
                "elapsed_s": round(self._clock() - self._started, 3),
                "message": self._message,
                "recent_errors": list(self._recent_errors),
            }

    def _record_sample(self) -> None:
        now = self._clock()
        self._samples.append((now, self._done))
        while len(self._samples) > 2 and now - self._samples[0][0] > _WINDOW_S:
            self._samples.popleft()

    def _rate(self) -> float:
        """Files per second over the window (0 until two samples exist)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        if not listeners:
            return
        snap = self.snapshot()
        for listener in listeners:
            listener(snap)


@dataclass
class IndexReport:
    """What one run did; ``errors``/``skipped`` are (library-relative path, reason)."""

    bundle_id: str
    scanned: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    moved: int = 0
    reused: int = 0
    deleted: int = 0
    encoded: int = 0
    batches: int = 0
    deferred: int = 0  # files still being written: indexed on a later pass
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    stopped: bool = False
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The counters only (for logs)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("errors", "skipped")}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (CLI ``--json``, web API)."""
        data = asdict(self)
        data["errors"] = [{"path": p, "reason": r} for p, r in self.errors]
        data["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        return data


def _checked(state: str) -> str:
    if state not in STATES:
        raise ValueError(f"unknown progress state {state!r}; expected one of {STATES}")
    return state


class TqdmBar:
    """Draws progress snapshots as a tqdm bar (CLI only): a listener for `Progress`.

    ``with TqdmBar() as bar: progress.add_listener(bar)``; closing the bar ends the line.
    """

    def __init__(self, desc: str = "indexing", disable: bool = False) -> None:
        self._bar = tqdm(total=0, desc=desc, unit="photo", disable=disable, dynamic_ncols=True)
        self._shown = 0

    def __call__(self, snap: dict[str, Any]) -> None:
        if snap["state"] != "indexing" and not snap["done"]:
            return
        if self._bar.total != snap["total"]:
            self._bar.total = snap["total"]
            self._bar.refresh()
        step = snap["done"] - self._shown
        if step > 0:
            self._bar.update(step)
            self._shown = snap["done"]
        self._bar.set_postfix(errors=snap["errors"], refresh=False)

    def __enter__(self) -> TqdmBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()
