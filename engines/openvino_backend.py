"""OpenVINO runner: the fast path on Intel CPUs, iGPUs and NPUs (reads .xml/.bin IR).

Thread safety: a pool of infer requests sized to the device's
OPTIMAL_NUMBER_OF_INFER_REQUESTS; each run borrows one (`engines.pool`).

Memory: after the first run of each input shape the CPU plugin holds its own packed
copy of the weights, so the pages of the mapped ``.bin`` it read are given back
(`engines.mapped_weights`): about 140 MB of RSS for the ViT-B/32 towers.

Precision is always set explicitly on CPU: bf16 only when asked *and* the CPU has
native BF16 (AMX/AVX512-BF16), f32 otherwise, so results never depend on a default
that changed between OpenVINO releases.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from engines.base import TowerRunner
from engines.bundle import resolve_inside
from engines.errors import BackendUnavailableError, BundleError, EngineError
from engines.mapped_weights import drop_resident_pages
from engines.pool import Pool

log = logging.getLogger(__name__)

MAX_TRACKED_SHAPES = 256  # text runs come in up to 77 lengths x batch sizes


def _ov() -> Any:
    return importlib.import_module("openvino")


def cpu_has_bf16(core: Any) -> bool:
    """True when the CPU plugin reports native BF16 among its optimisation capabilities."""
    caps = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "BF16" in [str(c).upper() for c in caps]


def inference_precision(
    device: str, artifact_precision: str, bf16: bool, bf16_ok: bool
) -> str | None:
    """The INFERENCE_PRECISION_HINT to set, or None where the plugin chooses (NPU, AUTO)."""
    if device == "CPU":
        return "bf16" if bf16 and bf16_ok else "f32"
    if device == "GPU":
        return "f16" if artifact_precision == "fp16" else "f32"
    return None


class OpenVinoRunner(TowerRunner):
    backend: ClassVar[str] = "openvino"
    devices: ClassVar[tuple[str, ...]] = ("CPU", "GPU", "NPU", "AUTO")

    @classmethod
    def available(cls) -> str | None:
        try:
            _ov()
        except ImportError as exc:
            return f"openvino is not installed ({exc}): pip install openvino"
        return None

    def _ir_paths(self) -> tuple[Path, Path]:
        xml = self.primary_path
        bins = [f for f in self.artifact.files[1:] if f.path.endswith(".bin")]
        weights = resolve_inside(self.root, bins[0].path) if bins else xml.with_suffix(".bin")
        return xml, weights

    def _config(self, core: Any) -> dict[str, str]:
        bf16_ok = self.device == "CPU" and self.options.bf16 and cpu_has_bf16(core)
        if self.options.bf16 and not bf16_ok:
            log.info("bf16 requested but %s lacks native BF16: running f32", self.device)
        config = {"PERFORMANCE_HINT": "LATENCY"}
        hint = inference_precision(self.device, self.artifact.precision, self.options.bf16, bf16_ok)
        if hint is not None:
            config["INFERENCE_PRECISION_HINT"] = hint
        if self.options.threads is not None and self.device == "CPU":
            config["INFERENCE_NUM_THREADS"] = str(self.options.threads)
        return config

    def _load(self) -> None:
        ov = _ov()
        core = ov.Core()
        present = {d.split(".")[0] for d in core.available_devices}  # "GPU.0" counts as GPU
        if self.device != "AUTO" and self.device not in present:
            raise BackendUnavailableError(
                f"OpenVINO device {self.device} is not present here (have "
                f"{core.available_devices}): pick another device"
            )
        if self.options.cache_dir is not None:
            Path(self.options.cache_dir).mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(self.options.cache_dir)})
        xml, weights = self._ir_paths()
        self._config_used = self._config(core)
        try:
            model = core.read_model(str(xml), str(weights))
            self._compiled = core.compile_model(model, self.device, self._config_used)
        except RuntimeError as exc:
            raise BundleError(
                f"OpenVINO cannot load {xml} ({exc}): rebuild the bundle with `edge-build export`"
            ) from exc
        self._check_signature(model)
        requests = [self._compiled.create_infer_request() for _ in range(self._pool_size())]
        self._requests: Pool[Any] | None = Pool(requests)
        self._weights_file = weights
        self._shapes_seen: set[tuple[int, ...]] = set()

    def _pool_size(self) -> int:
        """Infer requests the device runs well at once (1 on a CPU under the LATENCY hint)."""
        if self.options.workers is not None:
            return max(1, self.options.workers)
        return max(1, int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))

    @property
    def workers(self) -> int:
        pool = getattr(self, "_requests", None)
        return pool.size if pool is not None else 1

    def _check_signature(self, model: Any) -> None:
        ins = [set(p.get_names()) for p in model.inputs]
        outs = [set(p.get_names()) for p in model.outputs]
        if len(ins) != 1 or self.input_spec.name not in ins[0] or len(outs) != 1:
            raise BundleError(
                f"{self.primary_path}: IR inputs {ins} / outputs {outs} do not match the manifest "
                f"({self.input_spec.name} -> {self.output_spec.name}): rebuild the bundle"
            )

    def _run(self, x: np.ndarray) -> np.ndarray:
        """One infer request per run, borrowed from the pool: its output is only ours."""
        if self._requests is None:
            raise EngineError(f"{self.artifact.key}: the runner is closed")
        with self._requests.borrow() as request:
            request.infer({0: x}, share_inputs=False)
            out = np.array(request.get_output_tensor(0).data, copy=True)
        self._after_run(tuple(x.shape))
        return out

    def _after_run(self, shape: tuple[int, ...]) -> None:
        """After a shape's first run the plugin has packed the weights it needs: the
        mapped file's pages it read are dropped (a set.add is atomic under the GIL; two
        threads dropping at once is harmless)."""
        if self.device != "CPU" or shape in self._shapes_seen:
            return
        if len(self._shapes_seen) < MAX_TRACKED_SHAPES:
            self._shapes_seen.add(shape)
            dropped = drop_resident_pages(self._weights_file)
            log.debug("%s: %d MB of mapped weights dropped", self.artifact.key, dropped >> 20)

    def describe(self) -> dict[str, str]:
        info = super().describe()
        info["infer_requests"] = str(self.workers)
        for key, value in getattr(self, "_config_used", {}).items():
            info[key.lower()] = value
        return info

    def close(self) -> None:
        self._requests = None
        self._compiled = None
