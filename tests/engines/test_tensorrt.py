"""TensorRT: version logic without TensorRT; real runs only where TensorRT + pycuda exist."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engines.base import RunnerOptions
from engines.errors import BackendUnavailableError, IncompatibleArtifactError
from engines.manifest import BatchProfile
from engines.registry import create_runner
from engines.tensorrt_backend import TensorRTRunner, uses_execute_v3
from tests.engines.engines_testkit import SIZE, artifact, reference_image, write_image_onnx

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("version", "v3"),
    [("10.3.0", True), ("8.6.2.3", True), ("8.5.1", True), ("8.4.3", False), ("8.2.1.8", False)],
)
def test_execute_api_by_version(version: str, v3: bool) -> None:
    assert uses_execute_v3(version) is v3


def test_available_explains_missing_runtime() -> None:
    reason = TensorRTRunner.available()
    try:
        import pycuda.driver  # noqa: F401
        import tensorrt

        real = hasattr(tensorrt, "Runtime")
    except ImportError:
        real = False
    if real:
        assert reason is None
    else:
        assert reason is not None and "apt install" in reason


def test_device_buffers_need_pycuda() -> None:
    from engines.cuda_memory import DeviceBuffers

    if importlib.util.find_spec("pycuda") is not None:
        pytest.skip("pycuda is installed: DeviceBuffers would allocate for real")
    with pytest.raises(BackendUnavailableError, match="pycuda is not installed"):
        DeviceBuffers(0)


def _patched_stubs(dst: Path) -> Path:
    """Copy tensorrt-stubs and fix the three syntax errors it ships (`in` as a parameter)."""
    spec = importlib.util.find_spec("tensorrt_bindings")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("tensorrt-stubs is not installed")
    site = Path(next(iter(spec.submodule_search_locations))).parent
    for name in ("tensorrt", "tensorrt_bindings"):
        shutil.copytree(site / name, dst / name, ignore=shutil.ignore_patterns("*.so", "*.py"))
    pyi = dst / "tensorrt_bindings" / "tensorrt.pyi"
    text = re.sub(r"([(,] *)in:", r"\1in_:", pyi.read_text(encoding="utf-8"))
    text = text.replace(
        "power: Weights = None, channel_axis: int)",
        "power: Weights = None, channel_axis: int = ...)",
    )
    pyi.write_text(text, encoding="utf-8")
    return dst


@pytest.mark.slow
def test_mypy_against_tensorrt_stubs(tmp_path: Path) -> None:
    """The TensorRT code type-checks against the real API surface (the stubs), not Any."""
    stubs = _patched_stubs(tmp_path / "stubs")
    files = ["engines/tensorrt_backend.py", "engines/cuda_memory.py"]
    env = {"MYPYPATH": str(stubs), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            *files,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    ours = [line for line in proc.stdout.splitlines() if line.startswith("engines/")]
    assert not ours, "\n".join(ours)
    assert "Found" in proc.stdout or "Success" in proc.stdout, proc.stdout + proc.stderr


def _build_plan(onnx_path: Path, plan_path: Path) -> str:
    """Build a real fp32 plan (batch 1..4) with the TensorRT builder; returns its version."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse(onnx_path.read_bytes()), parser.get_error(0)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    shape = (3, SIZE, SIZE)
    profile.set_shape("pixel_values", (1, *shape), (2, *shape), (4, *shape))
    config.add_optimization_profile(profile)
    plan_path.write_bytes(bytes(builder.build_serialized_network(network, config)))
    return str(trt.__version__)


@pytest.mark.skipif(
    TensorRTRunner.available() is not None,
    reason=f"TensorRT unavailable: {TensorRTRunner.available()}",
)
def test_real_plan_matches_numpy(tmp_path: Path) -> None:
    from engines.cuda_memory import DeviceBuffers

    write_image_onnx(tmp_path / "image.onnx")
    version = _build_plan(tmp_path / "image.onnx", tmp_path / "image_fp32.plan")
    buffers = DeviceBuffers(0)
    cc = buffers.compute_capability()
    buffers.close()
    art = artifact(
        tmp_path,
        "image",
        "tensorrt",
        "fp32",
        ["image_fp32.plan"],
        batch=BatchProfile(1, 2, 4),
        versions={"tensorrt": version},
        device={"compute_capability": cc},
    )
    with create_runner(tmp_path, art, RunnerOptions(device="GPU")) as runner:
        x = np.random.default_rng(3).standard_normal((10, 3, SIZE, SIZE)).astype(np.float32)
        np.testing.assert_allclose(runner.run(x), reference_image(x), atol=1e-4)
    wrong = artifact(
        tmp_path,
        "image",
        "tensorrt",
        "fp32",
        ["image_fp32.plan"],
        versions={"tensorrt": version},
        device={"compute_capability": "1.0"},
    )
    with pytest.raises(IncompatibleArtifactError, match="compute capability 1.0"):
        create_runner(tmp_path, wrong, RunnerOptions(device="GPU"))
