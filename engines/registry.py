"""Backend name -> runner class (lazily imported), and the choice of artifacts to run.

Dispatch is by the artifact's `backend` field only; nothing else in the runtime
branches on backend names. Each runner class carries its own default device and the
devices it supports, so the selection below stays a table walk.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from engines.base import RunnerOptions, TowerRunner
from engines.errors import BackendUnavailableError, EngineError
from engines.manifest import Artifact, Manifest

log = logging.getLogger(__name__)

_RUNNERS: dict[str, tuple[str, str]] = {
    "tensorrt": ("engines.tensorrt_backend", "TensorRTRunner"),
    "openvino": ("engines.openvino_backend", "OpenVinoRunner"),
    "onnxruntime": ("engines.onnx_backend", "OnnxRunner"),
}
DEFAULT_ORDER: tuple[str, ...] = ("tensorrt", "openvino", "onnxruntime")
_GPU_DEVICES = ("GPU", "CUDA")
# int8w = OpenVINO int8 weights, float compute (a quarter of fp32's weight memory)
PRECISION_ORDER = {
    "gpu": ("fp16", "fp32", "int8", "int8w"),
    "cpu": ("fp32", "int8w", "int8", "fp16"),
}


def runner_class(backend: str) -> type[TowerRunner]:
    """The runner class of a backend name, importing its module on first use."""
    if backend not in _RUNNERS:
        raise BackendUnavailableError(
            f"unknown backend {backend!r}: known backends are {', '.join(_RUNNERS)}"
        )
    module, name = _RUNNERS[backend]
    cls: type[TowerRunner] = getattr(importlib.import_module(module), name)
    return cls


def availability() -> dict[str, str | None]:
    """Each backend's reason it cannot run here, None where it can."""
    return {name: runner_class(name).available() for name in _RUNNERS}


def create_runner(
    root: Path, artifact: Artifact, options: RunnerOptions | None = None
) -> TowerRunner:
    """Load one artifact with the runner its manifest entry names."""
    return runner_class(artifact.backend)(root, artifact, options)


@dataclass(frozen=True)
class Preference:
    """Parsed `prefer`: an optional backend, optional precision and the bf16 hint."""

    backend: str | None = None
    precision: str | None = None
    bf16: bool = False

    @classmethod
    def parse(cls, prefer: str | None) -> Preference:
        """'openvino', 'onnxruntime:fp32', 'openvino:int8', 'openvino:bf16' (fp32 + hint)."""
        if prefer is None or prefer.strip().lower() in ("", "auto"):
            return cls()
        backend, _, precision = prefer.strip().lower().partition(":")
        if backend not in _RUNNERS:
            raise BackendUnavailableError(
                f"prefer={prefer!r}: unknown backend {backend!r}, use one of {', '.join(_RUNNERS)} "
                "optionally followed by :fp32, :fp16, :int8, :int8w or :bf16"
            )
        if precision == "bf16":
            return cls(backend=backend, precision="fp32", bf16=True)
        if precision and precision not in ("fp32", "fp16", "int8", "int8w"):
            raise BackendUnavailableError(
                f"prefer={prefer!r}: unknown precision {precision!r} (fp32, fp16, int8, int8w, bf16)"
            )
        return cls(backend=backend, precision=precision or None)


@dataclass(frozen=True)
class Candidate:
    artifact: Artifact
    options: RunnerOptions


@dataclass
class Selection:
    """What was chosen for each tower, and why every other artifact was not."""

    chosen: dict[str, Candidate] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # artifact key -> reason


def device_for(backend: str, device: str | None) -> str:
    return (device or runner_class(backend).default_device).upper()


def precision_order(device: str, pref: Preference) -> tuple[str, ...]:
    """fp16 first on GPUs, fp32 first on CPUs; an explicit precision goes first."""
    order = PRECISION_ORDER["gpu" if device in _GPU_DEVICES else "cpu"]
    if pref.precision:
        return (pref.precision, *[p for p in order if p != pref.precision])
    return order


def _rank(artifact: Artifact, pref: Preference, device: str | None) -> tuple[int, int]:
    backends = (pref.backend,) if pref.backend else DEFAULT_ORDER
    dev = device_for(artifact.backend, device)
    return backends.index(artifact.backend), precision_order(dev, pref).index(artifact.precision)


def _unusable_reason(artifact: Artifact, pref: Preference, device: str | None) -> str | None:
    """Why an artifact is excluded before trying to load it, or None."""
    if artifact.backend not in _RUNNERS:
        return f"unknown backend {artifact.backend!r} (newer bundle? update the runtime)"
    if pref.backend and artifact.backend != pref.backend:
        return f"not preferred (prefer={pref.backend})"
    if artifact.precision not in precision_order("CPU", pref):
        return f"unknown precision {artifact.precision!r}"
    cls = runner_class(artifact.backend)
    dev = device_for(artifact.backend, device)
    if dev not in cls.devices:
        return f"{artifact.backend} cannot run on device {dev} (supports {', '.join(cls.devices)})"
    return cls.available()


def candidates(
    manifest: Manifest,
    tower: str,
    pref: Preference,
    device: str | None,
    cache_dir: Path | None,
    skipped: dict[str, str],
    threads: int | None = None,
) -> list[Candidate]:
    """Loadable-looking artifacts of one tower, best first; the rest go to `skipped`."""
    usable: list[Artifact] = []
    for artifact in manifest.artifacts_for(tower):
        reason = _unusable_reason(artifact, pref, device)
        if reason is None:
            usable.append(artifact)
        else:
            skipped[artifact.key] = reason
    usable.sort(key=lambda a: _rank(a, pref, device))
    return [
        Candidate(
            a,
            RunnerOptions(
                device=device_for(a.backend, device),
                bf16=pref.bf16,
                cache_dir=cache_dir,
                threads=threads,
            ),
        )
        for a in usable
    ]


def load_first(root: Path, ranked: list[Candidate], skipped: dict[str, str]) -> TowerRunner | None:
    """Load the best candidate that actually loads; record and log why others did not."""
    for cand in ranked:
        try:
            runner = create_runner(root, cand.artifact, cand.options)
        except EngineError as exc:
            skipped[cand.artifact.key] = f"failed to load: {exc}"
            log.warning("skipping %s: %s", cand.artifact.key, exc)
            continue
        return runner
    return None


def unavailable_error(
    manifest: Manifest, skipped: dict[str, str], prefer: str | None
) -> BackendUnavailableError:
    """One error listing every artifact of the bundle and why it cannot run here."""
    lines = [f"  {a.key}: {skipped.get(a.key, 'not needed')}" for a in manifest.artifacts]
    listing = "\n".join(lines) if lines else "  (the manifest lists no artifacts)"
    return BackendUnavailableError(
        f"no runnable image+text artifacts in bundle {manifest.bundle_id} (prefer={prefer!r}):\n"
        f"{listing}\nInstall a listed runtime, change --prefer, or rebuild the bundle with "
        "`edge-build export --targets ...` for this machine"
    )
