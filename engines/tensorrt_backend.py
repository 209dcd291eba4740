"""TensorRT runner (Jetson / NVIDIA GPUs) on the name-based tensor API of TRT 8.5+/10.

A plan only runs on the TensorRT version and GPU architecture it was built for, so the
recorded versions are compared (`engines.bundle.plan_incompatibility`) *before*
deserialising. All CUDA memory handling lives in `engines.cuda_memory`.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engines.base import TowerRunner
from engines.bundle import check_plan_compatible
from engines.errors import BundleError, EngineError, IncompatibleArtifactError

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
        self._buffers: DeviceBuffers = DeviceBuffers(0)
        check_plan_compatible(
            self.artifact, self._trt_version, self._buffers.compute_capability(), self.root
        )
        with self._buffers.active():
            self._engine = self._deserialize()
            self._context = self._engine.create_execution_context()
            self._bind_names()
            self._limit_batch_to_profile()
            if uses_execute_v3(self._trt_version):
                self._context.set_optimization_profile_async(0, self._buffers.stream_handle)

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
        _, _, max_shape = self._engine.get_tensor_profile_shape(self.input_spec.name, 0)
        profile_max = int(max_shape[0])
        if profile_max < self.max_batch:
            log.info(
                "%s: plan profile max %d < manifest max %d",
                self.artifact.key,
                profile_max,
                self.max_batch,
            )
            self.max_batch = profile_max

    def _run(self, x: np.ndarray) -> np.ndarray:
        with self._buffers.active():
            in_ptr = self._buffers.upload(self.input_spec.name, x)
            out = self._execute(x, in_ptr)
            self._buffers.synchronize()
        return out

    def _execute(self, x: np.ndarray, in_ptr: int) -> np.ndarray:
        if uses_execute_v3(self._trt_version):
            return self._execute_v3(x, in_ptr)
        return self._execute_v2(x, in_ptr)

    def _output_array(self, shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
        out = np.empty(shape, dtype=self._out_dtype)
        return out, self._buffers.ensure(self.output_spec.name, out.nbytes)

    def _execute_v3(self, x: np.ndarray, in_ptr: int) -> np.ndarray:
        name_in, name_out = self.input_spec.name, self.output_spec.name
        if not self._context.set_input_shape(name_in, tuple(x.shape)):
            raise EngineError(f"{self.artifact.key}: TensorRT rejected input shape {x.shape}")
        dims = self._context.get_tensor_shape(name_out)
        out, out_ptr = self._output_array(tuple(dims[i] for i in range(len(dims))))
        self._context.set_tensor_address(name_in, in_ptr)
        self._context.set_tensor_address(name_out, out_ptr)
        if not self._context.execute_async_v3(self._buffers.stream_handle):
            raise EngineError(f"{self.artifact.key}: TensorRT execute_async_v3 failed (see log)")
        self._buffers.download(name_out, out)
        return out

    def _execute_v2(self, x: np.ndarray, in_ptr: int) -> np.ndarray:
        """TensorRT < 8.5 only: binding-index API, absent from the 10.x stubs (hence Any)."""
        engine: Any = self._engine
        context: Any = self._context
        in_idx = engine.get_binding_index(self.input_spec.name)
        out_idx = engine.get_binding_index(self.output_spec.name)
        context.set_binding_shape(in_idx, tuple(x.shape))
        out, out_ptr = self._output_array(tuple(context.get_binding_shape(out_idx)))
        bindings = [0] * engine.num_bindings
        bindings[in_idx], bindings[out_idx] = in_ptr, out_ptr
        if not context.execute_async_v2(bindings, self._buffers.stream_handle):
            raise EngineError(f"{self.artifact.key}: TensorRT execute_async_v2 failed (see log)")
        self._buffers.download(self.output_spec.name, out)
        return out

    def describe(self) -> dict[str, str]:
        info = super().describe()
        info["tensorrt"] = getattr(self, "_trt_version", "")
        if hasattr(self, "_buffers"):
            info["gpu"] = self._buffers.device_name()
            info["compute_capability"] = self._buffers.compute_capability()
        return info

    def close(self) -> None:
        if hasattr(self, "_buffers"):
            with self._buffers.active():
                del self._context
                del self._engine
            self._buffers.close()
            del self._buffers
