"""The backend-independent part of running one tower (image or text) of a bundle.

Inputs are checked against the artifact's `TensorSpec` before any backend sees them
(Polygraphy-style), so a wrong dtype or shape fails with a readable `InputSpecError`
instead of a backend crash; large batches are chunked to the artifact's profile.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from engines.closing import Closing
from engines.errors import BundleError, EngineError, InputSpecError
from engines.manifest import Artifact, TensorSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerOptions:
    device: str = "CPU"
    bf16: bool = False
    cache_dir: Path | None = None
    threads: int | None = None
    workers: int | None = None  # runs at once (infer requests, TRT contexts); None = device's


def _cast_allowed(got: np.dtype, want: np.dtype) -> bool:
    """Lossless-by-convention casts: int ids to the plan's int width, fp32 to an fp16 input."""
    if got == want:
        return True
    if got.kind in "iu" and want.kind in "iu":
        return True
    return got == np.float32 and want == np.float16


def check_input(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Validate dtype, rank and fixed dims; returns a C-contiguous array of the spec's dtype."""
    want = np.dtype(spec.dtype)
    if not isinstance(x, np.ndarray):
        raise InputSpecError(f"{spec.name}: expected a numpy array, got {type(x).__name__}")
    if not _cast_allowed(x.dtype, want):
        raise InputSpecError(
            f"{spec.name}: dtype {x.dtype} does not match the artifact's {want} "
            f"(convert with .astype(np.{want}) first)"
        )
    if x.ndim != len(spec.shape):
        raise InputSpecError(
            f"{spec.name}: rank {x.ndim} (shape {x.shape}) but the artifact expects "
            f"rank {len(spec.shape)} {spec.shape}"
        )
    for axis, (got, exp) in enumerate(zip(x.shape, spec.shape, strict=True)):
        if exp != -1 and got != exp:
            raise InputSpecError(
                f"{spec.name}: dim {axis} is {got} but the artifact fixes it to {exp} "
                f"(shape {x.shape} vs {spec.shape})"
            )
    return np.ascontiguousarray(x, dtype=want)


def _select_input(x: np.ndarray | Mapping[str, np.ndarray], spec: TensorSpec) -> np.ndarray:
    """Accept a bare array, or a feed dict holding exactly the artifact's one input."""
    if not isinstance(x, Mapping):
        return x
    names = sorted(x)
    if names != [spec.name]:
        raise InputSpecError(f"inputs {names} given, the artifact takes exactly [{spec.name!r}]")
    return x[spec.name]


class TowerRunner(Closing):
    """One loaded artifact. Subclasses implement `_load`, `_run` and `available`."""

    backend: ClassVar[str]
    default_device: ClassVar[str] = "CPU"
    devices: ClassVar[tuple[str, ...]] = ("CPU",)

    def __init__(
        self, root: Path, artifact: Artifact, options: RunnerOptions | None = None
    ) -> None:
        if artifact.backend != self.backend:
            raise EngineError(
                f"{artifact.key} is a {artifact.backend} artifact, not {self.backend}: "
                "use engines.registry.create_runner to dispatch by artifact"
            )
        if len(artifact.inputs) != 1 or len(artifact.outputs) != 1:
            raise BundleError(
                f"{artifact.key}: expected exactly one input and one output, got "
                f"{len(artifact.inputs)} and {len(artifact.outputs)}: rebuild with `edge-build export`"
            )
        self.root = Path(root)
        self.artifact = artifact
        self.options = options or RunnerOptions()
        self.input_spec = artifact.inputs[0]
        self.output_spec = artifact.outputs[0]
        self.max_batch = max(1, artifact.batch.max)
        self.min_batch = max(1, artifact.batch.min)
        self.device = self.options.device.upper()
        if self.device not in self.devices:
            raise EngineError(
                f"{self.backend} cannot run on device {self.options.device!r}: "
                f"supported devices are {', '.join(self.devices)}"
            )
        self._state = threading.Lock()  # guards loaded/in-flight for `release`
        self._loaded, self._in_flight = False, 0
        self._last_used = time.monotonic()
        self._load()
        self._loaded = True

    @classmethod
    @abstractmethod
    def available(cls) -> str | None:
        """None when this backend's runtime can run here, else the human reason why not."""

    @abstractmethod
    def _load(self) -> None:
        """Load `self.artifact` from `self.root`; raise a domain error on failure."""

    @abstractmethod
    def _run(self, x: np.ndarray) -> np.ndarray:
        """Run one checked chunk (min_batch <= N <= max_batch) and return `(N, ...)`.

        CLIP towers return `(N, D)`; OCR models return maps or logits of the rank
        their `output_spec` records (-1 dims are free).
        """

    @property
    def primary_path(self) -> Path:
        from engines.bundle import resolve_inside

        return resolve_inside(self.root, self.artifact.primary.path)

    @property
    def workers(self) -> int:
        """How many runs proceed at once; `run` is safe from any number of threads."""
        return 1

    @property
    def dim(self) -> int:
        return self.output_spec.shape[-1]

    def run(self, x: np.ndarray | Mapping[str, np.ndarray]) -> np.ndarray:
        """Checked, chunked inference: `(N, ...)` -> float32 C-contiguous `(N, D)`."""
        arr = check_input(_select_input(x, self.input_spec), self.input_spec)
        n = arr.shape[0]
        if n == 0:
            return np.empty((0, max(self.dim, 0)), dtype=np.float32)
        self._acquire()
        try:
            parts = [
                self._run_chunk(arr[i : i + self.max_batch]) for i in range(0, n, self.max_batch)
            ]
        finally:
            with self._state:
                self._in_flight -= 1
                self._last_used = time.monotonic()
        out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _acquire(self) -> None:
        """Count a run in flight, loading the model again first if it was released."""
        with self._state:
            if not self._loaded:
                started = time.perf_counter()
                self._load()
                self._loaded = True
                log.info(
                    "%s loaded again after an idle release (%.1f s)",
                    self.artifact.key,
                    time.perf_counter() - started,
                )
            self._in_flight += 1

    @property
    def idle_s(self) -> float:
        """Seconds since the last run finished (since loading, before any run)."""
        return time.monotonic() - self._last_used

    @property
    def loaded(self) -> bool:
        return self._loaded

    def release(self) -> bool:
        """Free the loaded model unless a run is in flight; the next `run` loads it again.

        Why: an appliance is idle most of the day, and a tower it rarely needs (the image
        tower, between imports and photo searches) holds a few hundred MB. Returns
        whether it was released.
        """
        with self._state:
            if not self._loaded or self._in_flight:
                return False
            self.close()
            self._loaded = False
        log.info("%s released after %.0f s idle", self.artifact.key, self.idle_s)
        return True

    def _run_chunk(self, chunk: np.ndarray) -> np.ndarray:
        """Pad below the profile minimum (by repeating the last row), run, check the output."""
        n = chunk.shape[0]
        if n < self.min_batch:
            pad = np.repeat(chunk[-1:], self.min_batch - n, axis=0)
            chunk = np.ascontiguousarray(np.concatenate([chunk, pad], axis=0))
        out = np.asarray(self._run(chunk))
        want = (chunk.shape[0], *self.output_spec.shape[1:])
        fits = out.ndim == len(want) and all(
            w in (-1, g) for g, w in zip(out.shape, want, strict=True)
        )
        if not fits or out.shape[0] != chunk.shape[0]:
            raise EngineError(
                f"{self.artifact.key}: backend returned shape {out.shape}, expected "
                f"{want} (-1 = any): the artifact does not match its manifest, "
                "rebuild with `edge-build export`"
            )
        return out[:n]

    def describe(self) -> dict[str, str]:
        """What runs, for logs, `/api/status` and benchmark reports."""
        return {
            "backend": self.backend,
            "tower": self.artifact.tower,
            "precision": self.artifact.precision,
            "device": self.device,
            "file": self.artifact.primary.path,
            "batch_max": str(self.max_batch),
        }

    @abstractmethod
    def close(self) -> None:
        """Release backend resources; the runner cannot be used afterwards."""
