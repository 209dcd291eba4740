"""Every pycuda call of the runtime: context, stream, device buffers and copies.

Kept in one small class so the TensorRT runner reads as "shapes in, tensors out" and
the CUDA lifetime rules (push the context on the calling thread, free before the
context goes) live in one place.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from engines.errors import BackendUnavailableError


def _driver() -> Any:
    try:
        return importlib.import_module("pycuda.driver")
    except ImportError as exc:
        raise BackendUnavailableError(
            f"pycuda is not installed ({exc}): on Jetson `apt install python3-pycuda`, "
            "elsewhere `pip install pycuda`"
        ) from exc


class DeviceBuffers:
    """Named, growable device allocations plus one CUDA stream on one GPU."""

    def __init__(self, device_index: int = 0) -> None:
        cuda = _driver()
        cuda.init()
        if device_index >= cuda.Device.count():
            raise BackendUnavailableError(
                f"CUDA device {device_index} not found ({cuda.Device.count()} present)"
            )
        self._cuda = cuda
        self._device = cuda.Device(device_index)
        self._context = self._device.retain_primary_context()
        self._buffers: dict[str, tuple[Any, int]] = {}
        with self.active():
            self._stream = cuda.Stream()

    @contextmanager
    def active(self) -> Iterator[None]:
        """Make our context current on this thread (the indexer runs on worker threads)."""
        self._context.push()
        try:
            yield
        finally:
            self._context.pop()

    @property
    def stream_handle(self) -> int:
        return int(self._stream.handle)

    def compute_capability(self) -> str:
        major, minor = self._device.compute_capability()
        return f"{major}.{minor}"

    def device_name(self) -> str:
        return str(self._device.name())

    def ensure(self, name: str, nbytes: int) -> int:
        """Device pointer of a buffer of at least `nbytes`, reallocating only to grow."""
        current = self._buffers.get(name)
        if current is not None and current[1] >= nbytes:
            return int(current[0])
        if current is not None:
            current[0].free()
        alloc = self._cuda.mem_alloc(max(nbytes, 1))
        self._buffers[name] = (alloc, nbytes)
        return int(alloc)

    def upload(self, name: str, host: np.ndarray) -> int:
        """Async host->device copy into buffer `name`; returns its device pointer."""
        src = np.ascontiguousarray(host)
        ptr = self.ensure(name, src.nbytes)
        self._cuda.memcpy_htod_async(self._buffers[name][0], src, self._stream)
        return ptr

    def download(self, name: str, host: np.ndarray) -> None:
        """Async device->host copy of buffer `name` into the C-contiguous `host` array."""
        self._cuda.memcpy_dtoh_async(host, self._buffers[name][0], self._stream)

    def synchronize(self) -> None:
        self._stream.synchronize()

    def close(self) -> None:
        """Free every buffer and release the primary context reference."""
        with self.active():
            for alloc, _ in self._buffers.values():
                alloc.free()
            self._buffers.clear()
        self._context.detach()
