"""ONNX Runtime runner: the portable baseline (CPU EP; CUDA EP when asked for a GPU).

onnxruntime is imported lazily so that `import engines` stays cheap and works on a
machine that only has OpenVINO or TensorRT.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, ClassVar

import numpy as np

from engines.base import TowerRunner
from engines.errors import BackendUnavailableError, BundleError

log = logging.getLogger(__name__)

_GPU_DEVICES = ("GPU", "CUDA")


def _ort() -> Any:
    return importlib.import_module("onnxruntime")


class OnnxRunner(TowerRunner):
    backend: ClassVar[str] = "onnxruntime"
    devices: ClassVar[tuple[str, ...]] = ("CPU", "GPU", "CUDA")

    @classmethod
    def available(cls) -> str | None:
        try:
            _ort()
        except ImportError as exc:
            return f"onnxruntime is not installed ({exc}): pip install onnxruntime"
        return None

    def _providers(self, ort: Any) -> list[str]:
        """CPU EP by default; CUDA EP only when a GPU was asked for and ORT has it."""
        if self.device not in _GPU_DEVICES:
            return ["CPUExecutionProvider"]
        have = ort.get_available_providers()
        if "CUDAExecutionProvider" not in have:
            raise BackendUnavailableError(
                f"onnxruntime on {self.device} needs the CUDAExecutionProvider, this build has "
                f"{have}: install onnxruntime-gpu or use device CPU"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    def _session_options(self, ort: Any) -> Any:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.options.threads is not None:
            opts.intra_op_num_threads = self.options.threads
            opts.inter_op_num_threads = 1
        return opts

    def _load(self) -> None:
        ort = _ort()
        path = self.primary_path
        providers = self._providers(ort)
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=self._session_options(ort), providers=providers
            )
        except Exception as exc:  # ORT raises its own pybind exception types
            raise BundleError(
                f"onnxruntime cannot load {path} ({exc}): rebuild the bundle with `edge-build export`"
            ) from exc
        self._check_signature()
        self._providers_used = list(self._session.get_providers())
        log.debug("loaded %s with %s", path, self._providers_used)

    def _check_signature(self) -> None:
        """The graph must have the names the manifest promises, or `run` would feed nothing."""
        ins = [i.name for i in self._session.get_inputs()]
        outs = [o.name for o in self._session.get_outputs()]
        if ins != [self.input_spec.name] or self.output_spec.name not in outs:
            raise BundleError(
                f"{self.primary_path}: graph inputs {ins} / outputs {outs} do not match the "
                f"manifest ({self.input_spec.name} -> {self.output_spec.name}): rebuild the bundle"
            )

    def _run(self, x: np.ndarray) -> np.ndarray:
        out = self._session.run([self.output_spec.name], {self.input_spec.name: x})
        return np.asarray(out[0])

    def describe(self) -> dict[str, str]:
        info = super().describe()
        info["providers"] = ",".join(getattr(self, "_providers_used", []))
        return info

    def close(self) -> None:
        self._session = None
