"""ONNX -> TensorRT plan (fp32 / fp16 / int8), built on the target GPU itself.

A plan is bound to the TensorRT version and GPU architecture that built it, so this
only runs where `tensorrt` imports (the Jetson); both are recorded on the artifact and
the runtime refuses a mismatched plan. Written for the TensorRT 8.6 and 10.x Python API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from build_engines.errors import ConversionError, TensorRTUnavailableError
from engines.manifest import BatchProfile, TensorSpec

if TYPE_CHECKING:
    import tensorrt as trt

    from engines.cuda_memory import DeviceBuffers

log = logging.getLogger(__name__)

UNAVAILABLE = (
    "TensorRT not available on this host: build on the Jetson with "
    "`edge-build export --targets tensorrt`"
)
DEFAULT_WORKSPACE = 1 << 30  # 1 GiB: enough for CLIP ViT-B, safe on an 8 GB Orin
NUMPY_DTYPES = {
    "FLOAT": "float32",
    "HALF": "float16",
    "INT32": "int32",
    "INT64": "int64",
    "INT8": "int8",
}


@dataclass(frozen=True)
class PlanResult:
    """What the bundle needs to know about a built plan."""

    path: Path
    input: TensorSpec  # dtype as the engine binds it (TRT 8.6 narrows int64 ids to int32)
    versions: dict[str, str]
    device: dict[str, str]


def require_tensorrt() -> str:
    """TensorRT's version, or TensorRTUnavailableError. Stub-only installs import as empty packages."""
    try:
        import tensorrt
    except ImportError as exc:
        raise TensorRTUnavailableError(f"{UNAVAILABLE} ({exc})") from exc
    if not hasattr(tensorrt, "Builder"):
        raise TensorRTUnavailableError(f"{UNAVAILABLE} (only type stubs are installed)")
    return str(tensorrt.__version__)


def network_flags(trt_version: str, explicit_batch_flag: int) -> int:
    """TensorRT 8.x needs EXPLICIT_BATCH for dynamic shapes; 10.x is always explicit."""
    return 0 if int(trt_version.split(".")[0]) >= 10 else 1 << explicit_batch_flag


def profile_shapes(spec: TensorSpec, batch: BatchProfile) -> tuple[tuple[int, ...], ...]:
    """(min, opt, max) shapes of the input: the batch axis from `batch`, the rest fixed."""
    rest = spec.shape[1:]
    if any(d < 0 for d in rest):
        raise ConversionError(f"{spec.name}: only the batch axis may be dynamic, got {spec.shape}")
    if not 1 <= batch.min <= batch.opt <= batch.max:
        raise ConversionError(f"batch profile {batch} must satisfy 1 <= min <= opt <= max")
    return tuple((n, *rest) for n in (batch.min, batch.opt, batch.max))


def build_plan(
    onnx_path: Path,
    plan_path: Path,
    precision: str,
    spec: TensorSpec,
    batch: BatchProfile,
    calib_inputs: np.ndarray | None = None,
    workspace_bytes: int = DEFAULT_WORKSPACE,
) -> PlanResult:
    """Parse, configure, build and serialise one tower's plan to `plan_path`."""
    version = require_tensorrt()
    import tensorrt as trt

    from engines.cuda_memory import DeviceBuffers

    buffers = DeviceBuffers()
    try:
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        flags = network_flags(version, int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
        network = builder.create_network(flags)
        _parse(network, logger, onnx_path)
        config = _config(builder, precision, spec, batch, workspace_bytes)
        cache = plan_path.with_suffix(".calib")
        if precision == "int8":
            if calib_inputs is None:
                raise ConversionError("TensorRT int8 needs calibration inputs (--calib DIR)")
            calibrator = make_calibrator(buffers, spec.name, calib_inputs, batch.opt, cache)
            config.int8_calibrator = calibrator
        with buffers.active():
            serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ConversionError(f"TensorRT failed to build {plan_path.name}: see the log above")
        plan_path.write_bytes(bytes(memoryview(serialized)))
        dtype = _bound_input_dtype(logger, plan_path, spec.name)
        device = {"compute_capability": buffers.compute_capability(), "gpu": buffers.device_name()}
    finally:
        buffers.close()
    versions = {"tensorrt": version}
    return PlanResult(plan_path, TensorSpec(spec.name, dtype, spec.shape), versions, device)


def _parse(network: trt.INetworkDefinition, logger: trt.ILogger, path: Path) -> None:
    import tensorrt as trt

    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ConversionError(f"TensorRT's ONNX parser rejected {path.name}: {errors}")


def _config(
    builder: trt.Builder,
    precision: str,
    spec: TensorSpec,
    batch: BatchProfile,
    workspace_bytes: int,
) -> trt.IBuilderConfig:
    """Memory pool, the batch optimisation profile and the precision flags."""
    import tensorrt as trt

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    profile = builder.create_optimization_profile()
    lo, opt, hi = profile_shapes(spec, batch)
    profile.set_shape(spec.name, lo, opt, hi)
    config.add_optimization_profile(profile)
    if precision in ("fp16", "int8"):
        if not builder.platform_has_fast_fp16:
            log.warning("this GPU has no fast fp16: the %s plan may be slow", precision)
        config.set_flag(trt.BuilderFlag.FP16)  # int8 layers fall back to fp16, not fp32
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        config.set_calibration_profile(profile)
    elif precision != "fp32":
        raise ConversionError(f"TensorRT precision {precision!r}: expected fp32, fp16 or int8")
    return config


def _bound_input_dtype(logger: trt.ILogger, plan: Path, name: str) -> str:
    """The numpy dtype the engine binds `name` as (what the runtime must feed)."""
    import tensorrt as trt

    engine = trt.Runtime(logger).deserialize_cuda_engine(plan.read_bytes())
    if engine is None:
        raise ConversionError(f"{plan.name} was written but does not deserialise")
    kind = str(engine.get_tensor_dtype(name)).rsplit(".", 1)[-1]
    if kind not in NUMPY_DTYPES:
        raise ConversionError(
            f"{plan.name}: input {name} bound as {kind}, which the runtime cannot feed"
        )
    return NUMPY_DTYPES[kind]


def make_calibrator(
    buffers: DeviceBuffers,
    name: str,
    samples: np.ndarray,
    batch_size: int,
    cache: Path,
) -> trt.IInt8EntropyCalibrator2:
    """An entropy calibrator feeding `samples` in batches; reuses/writes `cache`."""
    import tensorrt as trt

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.cursor = 0

        def get_batch_size(self) -> int:
            return batch_size

        def get_batch(self, names: list[str]) -> list[int]:
            if self.cursor + batch_size > len(samples):
                return []  # no more full batches: calibration is done
            chunk = samples[self.cursor : self.cursor + batch_size]
            self.cursor += batch_size
            ptr = buffers.upload(name, chunk)
            buffers.synchronize()
            return [ptr]

        def read_calibration_cache(self) -> bytes | None:
            return cache.read_bytes() if cache.is_file() else None

        def write_calibration_cache(self, data: memoryview) -> None:
            cache.write_bytes(bytes(data))

    if len(samples) < batch_size:
        raise ConversionError(
            f"int8 calibration has {len(samples)} samples, fewer than one batch of {batch_size}: "
            "add photos to --calib"
        )
    calibrator: trt.IInt8EntropyCalibrator2 = EntropyCalibrator()
    return calibrator
