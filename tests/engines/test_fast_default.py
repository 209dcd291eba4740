"""engines.open's default: the fastest artifact this CPU runs well whose agreement >= 0.95.

Real bundles (hand-made ONNX -> OpenVINO IR) whose manifests carry agreement figures;
the CPU flags are injected as data, so each machine type is tested on this one.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

import engines
from engines.bundle import load_bundle
from engines.clip_encoder import ClipEncoder
from engines.cpu_features import CpuFeatures
from engines.manifest import Agreement, BatchProfile
from tests.engines.engines_testkit import artifact, default_artifacts, write_ir, write_manifest

VNNI = CpuFeatures.from_flags(["avx2", "avx512f", "avx512_vnni"])
BF16 = CpuFeatures.from_flags(["avx2", "avx512f", "avx512_bf16"])
AVX2 = CpuFeatures.from_flags(["avx2", "fma"])


def _agreement(overlap: float, bf16: float | None = None) -> Agreement:
    return Agreement(overlap=overlap, k=10, queries=96, photos=200, bf16_overlap=bf16)


def _bundle(root: Path, int8: float | None, bf16: float | None = None) -> Path:
    """fp32 ONNX + IR for both towers (fp32 IR agreement 1.0, bf16 as given) + int8 image IR."""
    root.mkdir(parents=True, exist_ok=True)
    arts = [
        replace(a, agreement=_agreement(1.0, bf16)) if a.backend == "openvino" else a
        for a in default_artifacts(root, BatchProfile())
    ]
    write_ir(root / "image_fp32.onnx", root / "image_int8.xml")
    agreement = _agreement(int8) if int8 is not None else None
    files = ["image_int8.xml", "image_int8.bin"]
    arts.append(artifact(root, "image", "openvino", "int8", files, agreement=agreement))
    write_manifest(root, arts)
    return root


def _image(enc: ClipEncoder) -> tuple[str, str, bool]:
    runner = enc.image_runner
    return runner.artifact.backend, runner.artifact.precision, runner.options.bf16


def test_int8_chosen_with_vnni_when_agreement_high(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _bundle(tmp_path, int8=0.97)
    with caplog.at_level(logging.INFO, logger="engines"), engines.open(root, cpu=VNNI) as enc:
        assert _image(enc) == ("openvino", "int8", False)
        assert enc.text_runner.artifact.precision == "fp32"  # no int8 text artifact
    assert "image/openvino/int8 (int8): eligible default" in caplog.text
    assert "avx512_vnni" in caplog.text


def test_int8_below_agreement_gate_is_not_chosen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _bundle(tmp_path, int8=0.90)
    with caplog.at_level(logging.INFO, logger="engines"), engines.open(root, cpu=VNNI) as enc:
        assert _image(enc) == ("openvino", "fp32", False)
    assert "retrieval agreement 0.900 < 0.95" in caplog.text


def test_int8_without_vnni_or_without_figure_is_not_chosen(tmp_path: Path) -> None:
    with engines.open(_bundle(tmp_path / "a", int8=0.99), cpu=AVX2) as enc:
        assert _image(enc) == ("openvino", "fp32", False)
    with engines.open(_bundle(tmp_path / "b", int8=None), cpu=VNNI) as enc:
        assert _image(enc) == ("openvino", "fp32", False)


def test_bf16_hint_chosen_on_native_bf16_when_agreement_high(tmp_path: Path) -> None:
    with engines.open(_bundle(tmp_path / "hi", int8=0.99, bf16=0.99), cpu=BF16) as enc:
        assert _image(enc) == ("openvino", "fp32", True)  # no VNNI flag: int8 not first
        assert enc.text_runner.options.bf16 is True
    with engines.open(_bundle(tmp_path / "lo", int8=0.99, bf16=0.80), cpu=BF16) as enc:
        assert _image(enc) == ("openvino", "fp32", False)


def test_explicit_preference_overrides_the_fast_default(tmp_path: Path) -> None:
    root = _bundle(tmp_path, int8=0.99, bf16=0.99)
    with engines.open(root, prefer="openvino", cpu=VNNI) as enc:
        assert _image(enc) == ("openvino", "fp32", False)
    with engines.open(root, prefer="onnxruntime", cpu=VNNI) as enc:
        assert _image(enc) == ("onnxruntime", "fp32", False)


def _with_int8w(root: Path, overlap: float, bf16: float | None = None) -> Path:
    """`_bundle` (int8 image IR at 0.99) plus an int8w image IR with the given agreement."""
    _bundle(root, int8=0.99, bf16=0.99)
    write_ir(root / "image_fp32.onnx", root / "image_int8w.xml")
    files = ["image_int8w.xml", "image_int8w.bin"]
    arts = list(load_bundle(root).manifest.artifacts)
    agreement = _agreement(overlap, bf16)
    arts.append(artifact(root, "image", "openvino", "int8w", files, agreement=agreement))
    write_manifest(root, arts)
    return root


def test_int8w_is_the_float_choice_on_any_cpu_when_it_agrees(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _with_int8w(tmp_path / "a", 0.99)
    with caplog.at_level(logging.INFO, logger="engines"), engines.open(root, cpu=AVX2) as enc:
        assert _image(enc) == ("openvino", "int8w", False)
    assert "image/openvino/int8w (int8w): eligible default" in caplog.text
    with engines.open(_with_int8w(tmp_path / "b", 0.99, bf16=0.98), cpu=BF16) as enc:
        # not the bf16 hint: it unpacks the int8 weights to bf16 (+87-95 MB of daemon RSS)
        assert _image(enc) == ("openvino", "int8w", False)
    with engines.open(_with_int8w(tmp_path / "c", 0.99, bf16=0.98), cpu=VNNI) as enc:
        assert _image(enc) == ("openvino", "int8", False)  # full int8 is faster with VNNI


def test_the_text_tower_takes_int8w_before_int8(tmp_path: Path) -> None:
    """Full int8 text runs single queries no faster, with 3.7x the compiled memory."""
    root = _with_int8w(tmp_path, 0.99)
    arts = list(load_bundle(root).manifest.artifacts)
    for precision in ("int8", "int8w"):
        write_ir(root / "text_fp32.onnx", root / f"text_{precision}.xml")
        files = [f"text_{precision}.xml", f"text_{precision}.bin"]
        arts.append(
            artifact(root, "text", "openvino", precision, files, agreement=_agreement(0.99))
        )
    write_manifest(root, arts)
    with engines.open(root, cpu=VNNI) as enc:
        assert enc.text_runner.artifact.precision == "int8w"
        assert _image(enc) == ("openvino", "int8", False)  # the bulk encoder keeps int8


def test_int8w_below_the_gate_is_not_chosen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _with_int8w(tmp_path, 0.90)
    with caplog.at_level(logging.INFO, logger="engines"), engines.open(root, cpu=AVX2) as enc:
        assert _image(enc) == ("openvino", "fp32", False)
    assert "int8w: retrieval agreement 0.900 < 0.95" in caplog.text
