"""A daemon without the web server: the real AppContext, JobQueue, job thread and
RootWatcher (real inotify through watchdog), wired exactly as `daemon.serve` wires them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edge_app.appliance.daemon import JobQueue
from edge_app.context import AppContext
from edge_app.indexing.progress import IndexReport
from edge_app.settings import Settings
from edge_app.watch.service import WatchService


def write_jpeg(path: Path, seed: int, size: int = 24) -> Path:
    """A tiny, distinct, real JPEG."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "JPEG", quality=80)
    return path


def jpeg_bytes(seed: int, size: int = 160) -> bytes:
    import io

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


@dataclass
class Running:
    ctx: AppContext
    jobs: JobQueue
    watch: WatchService
    reports: list[tuple[str, IndexReport]] = field(default_factory=list)

    def wait(self, cond: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what or cond}")

    def idle(self) -> bool:
        snap = self.jobs.snapshot()
        watcher = self.watch.watcher
        pending = watcher.debouncer.pending() if watcher else 0
        return snap["current"] is None and not snap["queued"] and pending == 0

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until nothing is dirty, queued or running (twice, to close races)."""
        for _ in range(2):
            self.wait(self.idle, timeout, "the watcher and jobs to go idle")
            time.sleep(self.ctx.settings.watch_settle_s + 0.5)
        self.wait(self.idle, timeout, "the watcher and jobs to go idle")

    def photos(self, status: str = "indexed") -> dict[str, int]:
        return {k: f.id for k, f in self.ctx.library.known_files().items() if f.status == status}

    @property
    def encoded(self) -> int:
        return sum(r.encoded for _, r in self.reports)


@contextmanager
def running(settings: Settings, initial_index: bool = True) -> Iterator[Running]:
    ctx = AppContext.open(settings)
    watch = WatchService(ctx)
    handle = Running(ctx, JobQueue({}, threading.Event()), watch)

    def recorded(kind: str, fn: Callable[[threading.Event, Mapping[str, Any]], Any]) -> Any:
        def run(stop: threading.Event, params: Mapping[str, Any]) -> Any:
            report = fn(stop, params)
            handle.reports.append((kind, report))
            return report

        return run

    handlers = {"reindex": lambda stop, p: ctx.index_library(stop_event=stop)}
    handlers.update(watch.handlers())
    handle.jobs = JobQueue({k: recorded(k, v) for k, v in handlers.items()}, threading.Event())
    worker = threading.Thread(target=handle.jobs.run_worker, daemon=True)
    worker.start()
    try:
        if initial_index:
            handle.jobs.submit("reindex")
        watch.start(handle.jobs.submit)
        handle.settle()
        handle.reports.clear()
        yield handle
    finally:
        watch.close()
        handle.jobs.close()
        handle.jobs.stop_event.set()
        worker.join(timeout=60)
        ctx.close()
