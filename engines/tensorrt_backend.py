"""TensorRT runner (Jetson / NVIDIA GPUs) on the name-based tensor API of TRT 8.5+/10.

A plan only runs on the TensorRT version and GPU architecture it was built for, so the
recorded versions are compared (`engines.bundle.plan_incompatibility`) *before*
deserialising. All CUDA memory handling lives in `engines.cuda_memory`.

Thread safety: one worker per concurrent run (an execution context on its own
optimization profile, CUDA stream and device buffers), lent by `engines.pool.Pool`;
TensorRT forbids two contexts running at once on one dynamic-shape profile, so a plan
with one profile has one worker and concurrent callers wait for it.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engines.base import TowerRunner
from engines.bundle import check_plan_compatible
from engines.errors import BundleError, EngineError, IncompatibleArtifactError
from engines.pool import Pool

if TYPE_CHECKING:
    import tensorrt as trt

    from engines.cuda_memory import DeviceBuffers

log = logging.getLogger(__name__)


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = (version.split(".") + ["0"])[:2]
    return int(major), int(minor)


def uses_execute_v3(trt_version: str) -> bool:
    """execute_async_v3 + name-based shapes exist from TensorRT 8.5; before that only v2."""
    return _version_tuple(trt_version) >= (8, 5)


@dataclass
class _Worker:
    """What one concurrent run owns: an execution context, its CUDA stream and buffers."""

    context: trt.IExecutionContext
    buffers: DeviceBuffers
    profile: int


class TensorRTRunner(TowerRunner):
    backend: ClassVar[str] = "tensorrt"
    default_device: ClassVar[str] = "GPU"
    devices: ClassVar[tuple[str, ...]] = ("GPU", "CUDA")

    @classmethod
    def available(cls) -> str | None:
        for module, hint in (
            ("tensorrt", "python3-libnvinfer"),
            ("pycuda.driver", "python3-pycuda"),
        ):
            try:
                loaded = importlib.import_module(module)
            except ImportError as exc:
                return f"{module} is not importable ({exc}): on Jetson `apt install {hint}`"
            if module == "tensorrt" and not hasattr(loaded, "Runtime"):
                # tensorrt-stubs alone leaves an importable namespace package, no runtime
                return (
                    "tensorrt is not importable (only its type stubs are installed): "
                    f"on Jetson `apt install {hint}`"
                )
        return None

    def _load(self) -> None:
        import tensorrt as trt

        from engines.cuda_memory import DeviceBuffers

        self._trt_version = str(trt.__version__)
        first = DeviceBuffers(0)
        self._gpu = (first.device_name(), first.compute_capability())
        check_plan_compatible(self.artifact, self._trt_version, self._gpu[1], self.root)
        with first.active():
            self._engine = self._deserialize()
            self._bind_names()
            self._limit_batch_to_profile()
        count = self._worker_count()
        buffers = [first, *(DeviceBuffers(0) for _ in range(count - 1))]
        self._workers: Pool[_Worker] | None = Pool(
            [self._new_worker(profile, b) for profile, b in enumerate(buffers)]
        )

    def _worker_count(self) -> int:
        """One context per optimization profile: TensorRT lets contexts that run at the same
        time share an engine but not a dynamic-shape profile (so a 1-profile plan: 1 worker)."""
        profiles = int(self._engine.num_optimization_profiles)
        if not uses_execute_v3(self._trt_version):
            profiles = 1
        wanted = self.options.workers or profiles
        return max(1, min(wanted, profiles))

    def _new_worker(self, profile: int, buffers: DeviceBuffers) -> _Worker:
        """An execution context bound to its own profile, CUDA stream and device buffers."""
        with buffers.active():
            context = self._engine.create_execution_context()
            if uses_execute_v3(self._trt_version):
                context.set_optimization_profile_async(profile, buffers.stream_handle)
        return _Worker(context, buffers, profile)

    @property
    def workers(self) -> int:
        pool = getattr(self, "_workers", None)
        return pool.size if pool is not None else 1

    def _deserialize(self) -> trt.ICudaEngine:
        import tensorrt as trt

        self._logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self._logger)
        engine = runtime.deserialize_cuda_engine(self.primary_path.read_bytes())
        if engine is None:
            raise IncompatibleArtifactError(
                f"TensorRT {self._trt_version} could not deserialise {self.primary_path} "
                f"(see the TensorRT log above): rebuild it on this device with "
                f"`edge-build export --targets tensorrt --out {self.root}`"
            )
        return engine

    def _bind_names(self) -> None:
        """Check the plan's IO names and dtypes against the manifest."""
        import tensorrt as trt

        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        inputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        if inputs != [self.input_spec.name] or self.output_spec.name not in outputs:
            raise BundleError(
                f"{self.primary_path}: plan tensors {inputs} -> {outputs} do not match the "
                f"manifest ({self.input_spec.name} -> {self.output_spec.name}): rebuild the plan"
            )
        self._io_names = names
        in_dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(self.input_spec.name)))
        if in_dtype != np.dtype(self.input_spec.dtype):
            raise BundleError(
                f"{self.primary_path}: plan input dtype {in_dtype} but manifest says "
                f"{self.input_spec.dtype}: rebuild the plan"
            )
        self._out_dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(self.output_spec.name)))

    def _limit_batch_to_profile(self) -> None:
        """Chunk at the smaller of the manifest's and the plan's own profile maximum."""
        if not uses_execute_v3(self._trt_version):
            return
        profile_max = min(
            int(self._engine.get_tensor_profile_shape(self.input_spec.name, p)[2][0])
            for p in range(int(self._engine.num_optimization_profiles))
        )
        if profile_max < self.max_batch:
            log.info(
                "%s: plan profile max %d < manifest max %d",
                self.artifact.key,
                profile_max,
                self.max_batch,
            )
            self.max_batch = profile_max

    def _run(self, x: np.ndarray) -> np.ndarray:
        """Borrow a worker for the whole run: its context, stream and buffers are only ours."""
        if self._workers is None:
            raise EngineError(f"{self.artifact.key}: the runner is closed")
        with self._workers.borrow() as worker, worker.buffers.active():
            in_ptr = worker.buffers.upload(self.input_spec.name, x)
            out = self._execute(worker, x, in_ptr)
            worker.buffers.synchronize()
        return out

    def _execute(self, worker: _Worker, x: np.ndarray, in_ptr: int) -> np.ndarray:
        if uses_execute_v3(self._trt_version):
            return self._execute_v3(worker, x, in_ptr)
        return self._execute_v2(worker, x, in_ptr)

    def _output_array(self, worker: _Worker, shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
        out = np.empty(shape, dtype=self._out_dtype)
        return out, worker.buffers.ensure(self.output_spec.name, out.nbytes)

    def _execute_v3(self, worker: _Worker, x: np.ndarray, in_ptr: int) -> np.ndarray:
        context, buffers = worker.context, worker.buffers
        name_in, name_out = self.input_spec.name, self.output_spec.name
        if not context.set_input_shape(name_in, tuple(x.shape)):
            raise EngineError(f"{self.artifact.key}: TensorRT rejected input shape {x.shape}")
        dims = context.get_tensor_shape(name_out)
        out, out_ptr = self._output_array(worker, tuple(dims[i] for i in range(len(dims))))
        context.set_tensor_address(name_in, in_ptr)
        context.set_tensor_address(name_out, out_ptr)
        if not context.execute_async_v3(buffers.stream_handle):
            raise EngineError(f"{self.artifact.key}: TensorRT execute_async_v3 failed (see log)")
        buffers.download(name_out, out)
        return out

    def _execute_v2(self, worker: _Worker, x: np.ndarray, in_ptr: int) -> np.ndarray:
        """TensorRT < 8.5 only: binding-index API, absent from the 10.x stubs (hence Any)."""
        engine: Any = self._engine
        context: Any = worker.context
        in_idx = engine.get_binding_index(self.input_spec.name)
        out_idx = engine.get_binding_index(self.output_spec.name)
        context.set_binding_shape(in_idx, tuple(x.shape))
        out, out_ptr = self._output_array(worker, tuple(context.get_binding_shape(out_idx)))
        bindings = [0] * engine.num_bindings
        bindings[in_idx], bindings[out_idx] = in_ptr, out_ptr
        if not context.execute_async_v2(bindings, worker.buffers.stream_handle):
            raise EngineError(f"{self.artifact.key}: TensorRT execute_async_v2 failed (see log)")
        worker.buffers.download(self.output_spec.name, out)
        return out

    def describe(self) -> dict[str, str]:
        info = super().describe()
        info["tensorrt"] = getattr(self, "_trt_version", "")
        info["contexts"] = str(self.workers)
        if hasattr(self, "_gpu"):
            info["gpu"], info["compute_capability"] = self._gpu
        return info

    def close(self) -> None:
        """Contexts go before the engine, each inside its own CUDA context; buffers last."""
        workers = getattr(self, "_workers", None)
        if workers is None:
            return
        self._workers = None
        for worker in workers.items:
            with worker.buffers.active():
                del worker.context
        with workers.items[0].buffers.active():
            del self._engine
        for worker in workers.items:
            worker.buffers.close()
