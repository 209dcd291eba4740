"""A fixed set of per-worker inference resources, lent to one caller at a time.

Why: an OpenVINO infer request or a TensorRT execution context holds the input and
output of ONE run; two threads sharing one mix their results (the output tensor of one
request read by another caller) or fail with "Infer Request is busy". Each run borrows
its own item for the whole run (input in, output copied out), so nothing that can mix
results is ever shared; callers beyond the pool's size wait for an item.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Generic, TypeVar

from engines.errors import EngineError

T = TypeVar("T")


class Pool(Generic[T]):
    """Lends each item to one borrower at a time (blocking while all are out)."""

    def __init__(self, items: Sequence[T]) -> None:
        if not items:
            raise EngineError("an inference pool needs at least one request or context")
        self._items: tuple[T, ...] = tuple(items)
        self._free: queue.LifoQueue[T] = queue.LifoQueue()
        for item in self._items:
            self._free.put(item)

    @property
    def size(self) -> int:
        return len(self._items)

    @property
    def items(self) -> tuple[T, ...]:
        """Every item, lent or not (for closing them)."""
        return self._items

    @contextmanager
    def borrow(self) -> Iterator[T]:
        """The caller's own item for the `with` block; returned even when the run fails."""
        item = self._free.get()
        try:
            yield item
        finally:
            self._free.put(item)
