"""ONNX Runtime and OpenVINO runners against a numpy twin of the same graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.base import RunnerOptions, TowerRunner
from engines.bundle import load_bundle
from engines.errors import BackendUnavailableError, EngineError, InputSpecError
from engines.manifest import Artifact, BatchProfile
from engines.openvino_backend import inference_precision
from engines.registry import availability, create_runner, runner_class
from tests.engines.engines_testkit import (
    CONTEXT,
    DIM,
    SIZE,
    artifact,
    reference_image,
    reference_text,
    write_image_onnx,
)

BACKENDS = ["onnxruntime", "openvino"]


def _artifact(bundle: Path, tower: str, backend: str) -> Artifact:
    manifest = load_bundle(bundle).manifest
    return next(a for a in manifest.artifacts if a.tower == tower and a.backend == backend)


@pytest.fixture(params=BACKENDS)
def image_runner(request: pytest.FixtureRequest, engine_bundle: Path) -> TowerRunner:
    runner = create_runner(engine_bundle, _artifact(engine_bundle, "image", request.param))
    request.addfinalizer(runner.close)
    return runner


@pytest.fixture(params=BACKENDS)
def text_runner(request: pytest.FixtureRequest, engine_bundle: Path) -> TowerRunner:
    runner = create_runner(engine_bundle, _artifact(engine_bundle, "text", request.param))
    request.addfinalizer(runner.close)
    return runner


def _pixels(n: int) -> np.ndarray:
    return np.random.default_rng(n).standard_normal((n, 3, SIZE, SIZE)).astype(np.float32)


def _ids(n: int) -> np.ndarray:
    return np.random.default_rng(n).integers(0, 49408, (n, CONTEXT), dtype=np.int64)


@pytest.mark.parametrize("n", [1, 3, 10])  # 10 > batch.max == 4: chunked
def test_image_matches_numpy(image_runner: TowerRunner, n: int) -> None:
    x = _pixels(n)
    out = image_runner.run(x)
    assert out.shape == (n, DIM) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, reference_image(x), atol=2e-5)


@pytest.mark.parametrize("n", [1, 9])
def test_text_matches_numpy(text_runner: TowerRunner, n: int) -> None:
    ids = _ids(n)
    np.testing.assert_allclose(text_runner.run(ids), reference_text(ids), atol=2e-5)


def test_int32_ids_are_cast_to_the_artifact_dtype(text_runner: TowerRunner) -> None:
    ids = _ids(2)
    np.testing.assert_allclose(
        text_runner.run(ids.astype(np.int32)), reference_text(ids), atol=2e-5
    )


def test_feed_dict_with_the_right_name(text_runner: TowerRunner) -> None:
    ids = _ids(2)
    np.testing.assert_allclose(text_runner.run({"input_ids": ids}), reference_text(ids), atol=2e-5)


def test_batch_zero_gives_empty(image_runner: TowerRunner) -> None:
    out = image_runner.run(np.empty((0, 3, SIZE, SIZE), np.float32))
    assert out.shape == (0, DIM) and out.dtype == np.float32


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((2, 3, SIZE, SIZE), np.float64), "dtype float64"),
        (np.zeros((2, 3, SIZE, SIZE), np.int64), "dtype int64"),
        (np.zeros((3, SIZE, SIZE), np.float32), "rank 3"),
        (np.zeros((2, 4, SIZE, SIZE), np.float32), "dim 1 is 4"),
        (np.zeros((2, 3, SIZE + 1, SIZE), np.float32), "dim 2 is 17"),
        ({"pixels": np.zeros((1, 3, SIZE, SIZE), np.float32)}, "exactly"),
        ([[1.0]], "numpy array"),
    ],
)
def test_input_spec_errors(image_runner: TowerRunner, x: object, message: str) -> None:
    with pytest.raises(InputSpecError, match=message):
        image_runner.run(x)  # type: ignore[arg-type]


def test_text_rejects_float_ids(text_runner: TowerRunner) -> None:
    with pytest.raises(InputSpecError, match="float32"):
        text_runner.run(np.zeros((1, CONTEXT), np.float32))


def test_chunks_and_pads_to_a_static_batch_graph(tmp_path: Path) -> None:
    """The graph only accepts batch 4: correct output for 10 proves chunking and padding."""
    write_image_onnx(tmp_path / "image_fp32.onnx", batch=4)
    art = artifact(
        tmp_path, "image", "onnxruntime", "fp32", ["image_fp32.onnx"], batch=BatchProfile(4, 4, 4)
    )
    with create_runner(tmp_path, art) as runner:
        x = _pixels(10)
        np.testing.assert_allclose(runner.run(x), reference_image(x), atol=2e-5)


def test_runner_refuses_other_backends_artifact(engine_bundle: Path) -> None:
    art = _artifact(engine_bundle, "image", "openvino")
    with pytest.raises(EngineError, match="openvino artifact"):
        runner_class("onnxruntime")(engine_bundle, art)


def test_onnxruntime_gpu_without_cuda_ep(engine_bundle: Path) -> None:
    art = _artifact(engine_bundle, "image", "onnxruntime")
    with pytest.raises(BackendUnavailableError, match="CUDAExecutionProvider"):
        create_runner(engine_bundle, art, RunnerOptions(device="GPU"))


def test_openvino_missing_device(engine_bundle: Path) -> None:
    import openvino as ov

    if "NPU" in ov.Core().available_devices:
        pytest.skip("this machine has an NPU")
    art = _artifact(engine_bundle, "image", "openvino")
    with pytest.raises(BackendUnavailableError, match="NPU is not present"):
        create_runner(engine_bundle, art, RunnerOptions(device="NPU"))


def test_openvino_cache_dir_is_filled(engine_bundle: Path, tmp_path: Path) -> None:
    cache = tmp_path / "ov-cache"
    art = _artifact(engine_bundle, "image", "openvino")
    with create_runner(engine_bundle, art, RunnerOptions(cache_dir=cache)) as runner:
        runner.run(_pixels(1))
    assert any(cache.iterdir())


def test_openvino_precision_is_explicit(engine_bundle: Path) -> None:
    art = _artifact(engine_bundle, "image", "openvino")
    with create_runner(engine_bundle, art, RunnerOptions(bf16=True)) as runner:
        import openvino as ov

        caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        expected = "bf16" if "BF16" in caps else "f32"
        assert runner.describe()["inference_precision_hint"] == expected
        assert runner.describe()["performance_hint"] == "LATENCY"


def test_inference_precision_rules() -> None:
    assert inference_precision("CPU", "fp32", bf16=True, bf16_ok=True) == "bf16"
    assert inference_precision("CPU", "fp32", bf16=True, bf16_ok=False) == "f32"
    assert inference_precision("CPU", "int8", bf16=False, bf16_ok=True) == "f32"
    assert inference_precision("GPU", "fp16", bf16=False, bf16_ok=False) == "f16"
    assert inference_precision("NPU", "fp32", bf16=False, bf16_ok=False) is None


def test_availability_reports_every_backend() -> None:
    avail = availability()
    assert set(avail) == {"tensorrt", "openvino", "onnxruntime"}
    assert avail["onnxruntime"] is None and avail["openvino"] is None


def test_unknown_backend() -> None:
    with pytest.raises(BackendUnavailableError, match="known backends"):
        runner_class("coreml")


def test_describe(image_runner: TowerRunner) -> None:
    info = image_runner.describe()
    assert info["tower"] == "image" and info["precision"] == "fp32" and info["device"] == "CPU"
    assert info["backend"] in BACKENDS


def test_released_runner_loads_again_on_the_next_run(image_runner: TowerRunner) -> None:
    """The daemon's idle release: the model is freed, and the next run reloads it."""
    x = _pixels(2)
    before = image_runner.run(x)
    assert image_runner.loaded and image_runner.idle_s >= 0
    assert image_runner.release() and not image_runner.loaded
    assert not image_runner.release()  # nothing left to free
    np.testing.assert_allclose(image_runner.run(x), before, atol=1e-6)
    assert image_runner.loaded


def test_a_run_in_flight_is_never_released(image_runner: TowerRunner) -> None:
    image_runner._acquire()  # what run() does first: a run is now in flight
    try:
        assert not image_runner.release() and image_runner.loaded
    finally:
        image_runner._in_flight -= 1
    assert image_runner.release()
