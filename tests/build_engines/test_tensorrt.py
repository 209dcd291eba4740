"""TensorRT: the real "not available" path here; plan building only where TensorRT imports."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_engines.api import build_bundle
from build_engines.cli import main
from build_engines.convert_tensorrt import (
    UNAVAILABLE,
    network_flags,
    profile_shapes,
    require_tensorrt,
)
from build_engines.errors import ConversionError, TensorRTUnavailableError
from engines.manifest import BatchProfile, TensorSpec


def _has_tensorrt() -> bool:
    try:
        require_tensorrt()
    except TensorRTUnavailableError:
        return False
    return True


HAS_TRT = _has_tensorrt()
needs_no_trt = pytest.mark.skipif(
    HAS_TRT, reason="TensorRT is installed: the unavailable path cannot be hit"
)


@needs_no_trt
def test_unavailable_message_is_actionable() -> None:
    with pytest.raises(TensorRTUnavailableError) as info:
        require_tensorrt()
    assert str(info.value).startswith(UNAVAILABLE)
    assert "edge-build export --targets tensorrt" in str(info.value)


@needs_no_trt
def test_build_bundle_fails_fast_without_writing(tmp_path: Path) -> None:
    out = tmp_path / "b"
    with pytest.raises(TensorRTUnavailableError, match="build on the Jetson"):
        build_bundle("tiny", out, targets=("tensorrt",))
    assert not out.exists()


@needs_no_trt
def test_cli_reports_unavailable_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["export", "--model", "tiny", "--out", str(tmp_path / "b"), "--targets", "tensorrt"]
    )
    assert code != 0
    assert "TensorRT not available on this host" in capsys.readouterr().err


def test_profile_shapes_follow_the_batch_profile() -> None:
    spec = TensorSpec("pixel_values", "float32", (-1, 3, 224, 224))
    lo, opt, hi = profile_shapes(spec, BatchProfile(1, 8, 32))
    assert (lo, opt, hi) == ((1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 224, 224))


@pytest.mark.parametrize("batch", [BatchProfile(0, 1, 2), BatchProfile(4, 2, 8)])
def test_bad_profiles_are_rejected(batch: BatchProfile) -> None:
    with pytest.raises(ConversionError, match="min <= opt <= max"):
        profile_shapes(TensorSpec("input_ids", "int64", (-1, 77)), batch)


def test_network_flags_per_major_version() -> None:
    assert network_flags("8.6.2", explicit_batch_flag=0) == 1
    assert network_flags("10.3.0", explicit_batch_flag=0) == 0


@pytest.mark.skipif(
    not HAS_TRT, reason="TensorRT not importable on this host (build on the Jetson)"
)
def test_fp16_plan_builds_with_parity(tmp_path: Path) -> None:
    from engines.manifest import Manifest

    build_bundle("tiny", tmp_path, targets=("tensorrt",), precisions=("fp16",))
    arts = Manifest.load(tmp_path).artifacts
    assert {a.key for a in arts} == {"image/tensorrt/fp16", "text/tensorrt/fp16"}
    for a in arts:
        assert a.versions["tensorrt"] and a.device["compute_capability"]
        assert a.parity is not None and a.parity.min_cosine >= 0.99
