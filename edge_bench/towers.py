"""Uniform `encode(x) -> (N, D) float32` callables for every backend under test.

The worker times these callables and nothing else, so PyTorch, ONNX Runtime,
OpenVINO and TensorRT are measured through the same loop. Imports are lazy: each
backend is loaded in its own subprocess, and importing torch where only OpenVINO is
measured would pollute that process's memory figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Encode = Callable[[np.ndarray], np.ndarray]


@dataclass
class LoadedTowers:
    """Both towers of one backend/precision, ready to time."""

    image: Encode
    text: Encode
    describe: dict[str, str] = field(default_factory=dict)
    close: Callable[[], None] = lambda: None


def _to_numpy(out: Any) -> np.ndarray:
    """TorchEncoder may hand back tensors or arrays; the benchmark wants float32 numpy."""
    if hasattr(out, "detach"):
        out = out.detach().float().cpu().numpy()
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32))


def load_torch(model: str, device: str, precision: str) -> LoadedTowers:
    """The PyTorch reference (build_engines.torch_backend), any device torch supports."""
    from build_engines.models import load_model
    from build_engines.torch_backend import TorchEncoder

    enc = TorchEncoder(load_model(model), device=device, dtype=precision)

    def image(x: np.ndarray) -> np.ndarray:
        return _to_numpy(enc.encode_pixels(x))

    def text(x: np.ndarray) -> np.ndarray:
        return _to_numpy(enc.encode_tokens(x))

    info = {"backend": "torch", "precision": precision, "device": device, "model": model}
    return LoadedTowers(image=image, text=text, describe=info)


def find_artifact(bundle: Path, tower: str, backend: str, precision: str) -> Any:
    """The manifest artifact for (tower, backend, precision), or None."""
    from engines.manifest import Manifest

    for art in Manifest.load(bundle).artifacts_for(tower):
        if art.backend == backend and art.precision == precision:
            return art
    return None


def artifact_precision(backend: str, precision: str) -> str:
    """bf16 is an OpenVINO runtime hint applied to the fp32 IR, not a separate file."""
    return "fp32" if backend == "openvino" and precision == "bf16" else precision


def load_runner_towers(
    bundle: Path, backend: str, precision: str, device: str, threads: int | None
) -> LoadedTowers:
    """Both towers through engines.registry.create_runner (the appliance's own code path)."""
    from engines.base import RunnerOptions
    from engines.registry import create_runner

    opts = RunnerOptions(device=device.upper(), bf16=precision == "bf16", threads=threads)
    runners = []
    for tower in ("image", "text"):
        art = find_artifact(bundle, tower, backend, artifact_precision(backend, precision))
        if art is None:
            raise LookupError(f"bundle has no {tower}/{backend}/{precision} artifact")
        runners.append(create_runner(bundle, art, opts))
    img, txt = runners
    info = {f"image.{k}": v for k, v in img.describe().items()}
    info.update({f"text.{k}": v for k, v in txt.describe().items()})

    def close() -> None:
        img.close()
        txt.close()

    return LoadedTowers(image=img.run, text=txt.run, describe=info, close=close)


def ov_cpu_supports_bf16() -> bool:
    """Whether OpenVINO's CPU plugin can honour a bf16 hint (else it silently runs f32)."""
    import openvino as ov

    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "BF16" in [str(c).upper() for c in caps]
