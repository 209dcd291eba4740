"""Dynamic batching per tower (Triton's dynamic batcher is the model).

Concurrent callers of one tower (web threads searching, the indexer's batches, the
tagger) put their rows in one bounded priority queue; worker threads (as many as the
runner runs at once, `TowerRunner.workers`) take the oldest interactive request, add
whatever else is waiting up to `max_batch` rows, wait at most `max_queue_delay_us` for
more, run ONE inference and hand each caller exactly its own rows. Interactive requests
go before bulk ones, and bulk requests are cut into `max_batch`-row pieces, so a search
waits for at most one piece of an import, never a whole batch.

Back-pressure: more than `queue_size` interactive requests waiting raises
`EngineBusyError` at once (the web app answers 503 + Retry-After); bulk callers wait for
room instead of failing. Text ids of different lengths are right-padded to the widest
(exact: CLIP pools at EOT through causal attention, masked towers mask the pad id).
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from engines.base import TowerRunner
from engines.closing import Closing
from engines.errors import EngineBusyError, EngineError


class Priority(IntEnum):
    INTERACTIVE = 0  # a person is waiting: searches, the embed API
    BULK = 1  # indexer batches, re-tagging: throughput matters, latency does not


_PRIORITY: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "edge_batch_priority", default=Priority.INTERACTIVE
)


@contextmanager
def bulk_priority() -> Iterator[None]:
    """Encoder calls inside the block queue behind interactive ones (the indexer's)."""
    token = _PRIORITY.set(Priority.BULK)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


@dataclass(frozen=True)
class BatchPolicy:
    """`max_batch` <= 1 turns coalescing off: each request then runs on its own."""

    max_batch: int = 16
    max_queue_delay_us: int = 2000
    queue_size: int = 64
    retry_after_s: int = 1

    @property
    def coalesce(self) -> bool:
        return self.max_batch > 1


@dataclass(order=True)
class _Request:
    priority: int
    seq: int
    rows: np.ndarray = field(compare=False)
    enqueued: float = field(compare=False, default_factory=time.monotonic)
    done: threading.Event = field(compare=False, default_factory=threading.Event)
    result: np.ndarray | None = field(compare=False, default=None)
    error: BaseException | None = field(compare=False, default=None)

    @property
    def n(self) -> int:
        return int(self.rows.shape[0])

    def wait(self) -> np.ndarray:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class DynamicBatcher(Closing):
    """`run(x)` from any thread; coalesced with other callers' rows into few inferences."""

    def __init__(self, runner: TowerRunner, policy: BatchPolicy, pad_value: int | None) -> None:
        self.runner = runner
        self.policy = policy
        self._pad = pad_value
        self._queue: list[_Request] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._closed = False
        self._threads: list[threading.Thread] = []
        self.batches_run = 0  # inferences made (tests and benches read it)

    def run(self, x: np.ndarray) -> np.ndarray:
        """The caller's rows, in order, as if it had run the tower alone."""
        if x.shape[0] == 0:
            return self.runner.run(x)
        priority = _PRIORITY.get()
        if priority is Priority.INTERACTIVE or not self.policy.coalesce:
            return self._submit(x, priority).wait()
        step = self.policy.max_batch
        parts = [self._submit(x[i : i + step], priority).wait() for i in range(0, len(x), step)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)

    def _submit(self, x: np.ndarray, priority: Priority) -> _Request:
        request = _Request(int(priority), next(self._seq), x)
        with self._cond:
            self._start_workers()
            while len(self._queue) >= self.policy.queue_size and not self._closed:
                if priority is Priority.INTERACTIVE:
                    raise EngineBusyError(
                        f"{self.runner.artifact.key}: {len(self._queue)} requests are waiting "
                        f"(queue_size {self.policy.queue_size}): retry in "
                        f"{self.policy.retry_after_s} s",
                        self.policy.retry_after_s,
                    )
                self._cond.wait()
            if self._closed:
                raise EngineError(f"{self.runner.artifact.key}: the encoder is closed")
            heapq.heappush(self._queue, request)
            self._cond.notify_all()
        return request

    def _start_workers(self) -> None:
        """Started on first use (nothing runs at import or construction time)."""
        if self._threads:
            return
        for i in range(max(1, self.runner.workers)):
            thread = threading.Thread(
                target=self._work, name=f"batcher-{self.runner.artifact.tower}-{i}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._execute(batch)

    def _next_batch(self) -> list[_Request] | None:
        """The head request plus compatible ones, within max_batch rows and the delay."""
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            batch = [heapq.heappop(self._queue)]
            deadline = batch[0].enqueued + self.policy.max_queue_delay_us / 1e6
            while self.policy.coalesce and self._fill(batch):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._cond.notify_all()  # room in the queue for waiting bulk callers
            return batch

    def _fill(self, batch: list[_Request]) -> bool:
        """Move fitting requests from the queue into `batch`; True while there is room."""
        rows = sum(r.n for r in batch)
        for request in sorted(self._queue):
            if rows + request.n <= self.policy.max_batch and self._fits(batch[0], request):
                self._queue.remove(request)
                batch.append(request)
                rows += request.n
        heapq.heapify(self._queue)
        return rows < self.policy.max_batch

    def _fits(self, head: _Request, other: _Request) -> bool:
        if head.rows.shape[1:] == other.rows.shape[1:]:
            return True
        return self._pad is not None and head.rows.ndim == other.rows.ndim == 2

    def _execute(self, batch: list[_Request]) -> None:
        try:
            out = self.runner.run(self._stack([r.rows for r in batch]))
        except BaseException as exc:  # every caller of the failed batch gets the error
            for request in batch:
                request.error = exc
                request.done.set()
            return
        self.batches_run += 1
        start = 0
        for request in batch:
            request.result = np.array(out[start : start + request.n], copy=True)
            start += request.n
            request.done.set()

    def _stack(self, parts: list[np.ndarray]) -> np.ndarray:
        if len(parts) == 1:
            return parts[0]
        width = max(p.shape[1] for p in parts) if parts[0].ndim == 2 else None
        if width is not None and self._pad is not None:
            parts = [_pad_right(p, width, self._pad) for p in parts]
        return np.concatenate(parts, axis=0)

    def close(self) -> None:
        """Stop the workers; requests still queued fail with EngineError."""
        with self._cond:
            self._closed = True
            pending, self._queue = self._queue, []
            self._cond.notify_all()
        for request in pending:
            request.error = EngineError(f"{self.runner.artifact.key}: the encoder was closed")
            request.done.set()
        for thread in self._threads:
            thread.join(timeout=30)


def _pad_right(ids: np.ndarray, width: int, pad: int) -> np.ndarray:
    if ids.shape[1] == width:
        return ids
    out = np.full((ids.shape[0], width), pad, dtype=ids.dtype)
    out[:, : ids.shape[1]] = ids
    return out
