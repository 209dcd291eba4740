"""engines.open: the manifest + registry pick the backend; prefer/device override it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import engines
from engines.clip_encoder import ClipEncoder, trim_padding
from engines.errors import BackendUnavailableError
from engines.registry import Preference, precision_order
from tests.engines.engines_testkit import DIM, SIZE, reference_image, reference_text


def _chosen(enc: ClipEncoder) -> tuple[str, str, str, str]:
    info = enc.describe()
    return (
        info["image.backend"],
        info["image.precision"],
        info["text.backend"],
        info["text.precision"],
    )


def test_default_is_openvino_fp32_and_logs_skipped_tensorrt(
    multi_bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="engines"), engines.open(multi_bundle) as enc:
        assert _chosen(enc) == ("openvino", "fp32", "openvino", "fp32")
    assert "skipped image/tensorrt/fp16: tensorrt is not importable" in caplog.text
    assert "image tower" in caplog.text


@pytest.mark.parametrize(
    ("prefer", "expected"),
    [
        ("onnxruntime", ("onnxruntime", "fp32", "onnxruntime", "fp32")),
        ("onnxruntime:fp32", ("onnxruntime", "fp32", "onnxruntime", "fp32")),
        ("OpenVINO", ("openvino", "fp32", "openvino", "fp32")),
        ("openvino:int8", ("openvino", "int8", "openvino", "fp32")),
        ("openvino:bf16", ("openvino", "fp32", "openvino", "fp32")),
        ("auto", ("openvino", "fp32", "openvino", "fp32")),
    ],
)
def test_prefer(multi_bundle: Path, prefer: str, expected: tuple[str, ...]) -> None:
    with engines.open(multi_bundle, prefer=prefer) as enc:
        assert _chosen(enc) == expected


def test_bf16_hint_reaches_openvino(multi_bundle: Path) -> None:
    with engines.open(multi_bundle, prefer="openvino:bf16") as enc:
        assert enc.image_runner.options.bf16 is True
    with engines.open(multi_bundle, prefer="openvino") as enc:
        assert enc.image_runner.options.bf16 is False


def test_prefer_tensorrt_lists_every_artifact(multi_bundle: Path) -> None:
    with pytest.raises(BackendUnavailableError) as info:
        engines.open(multi_bundle, prefer="tensorrt")
    text = str(info.value)
    assert "image/tensorrt/fp16: tensorrt is not importable" in text
    assert "image/onnxruntime/fp32: not preferred (prefer=tensorrt)" in text
    assert "text/openvino/fp32: not preferred" in text


def test_precision_that_no_tower_has(engine_bundle: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="no loadable int8 artifact"):
        engines.open(engine_bundle, prefer="onnxruntime:int8")


def test_gpu_device_without_gpu_runtimes(engine_bundle: Path) -> None:
    with pytest.raises(BackendUnavailableError) as info:
        engines.open(engine_bundle, prefer="onnxruntime", device="GPU")
    assert "CUDAExecutionProvider" in str(info.value)


def test_device_cpu_excludes_tensorrt(multi_bundle: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="tensorrt cannot run on device CPU"):
        engines.open(multi_bundle, prefer="tensorrt", device="CPU")


@pytest.mark.parametrize("prefer", ["coreml", "openvino:fp8"])
def test_bad_prefer(engine_bundle: Path, prefer: str) -> None:
    with pytest.raises(BackendUnavailableError, match="prefer="):
        engines.open(engine_bundle, prefer=prefer)


def test_tensorrt_only_bundle(multi_bundle: Path, tmp_path: Path) -> None:
    data = json.loads((multi_bundle / "manifest.json").read_text())
    data["artifacts"] = [a for a in data["artifacts"] if a["backend"] == "tensorrt"]
    for a in data["artifacts"]:
        for f in a["files"]:
            (tmp_path / f["path"]).write_bytes((multi_bundle / f["path"]).read_bytes())
    (tmp_path / "tokenizer").mkdir()
    vocab = "tokenizer/bpe_simple_vocab_16e6.txt.gz"
    (tmp_path / vocab).write_bytes((multi_bundle / vocab).read_bytes())
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(
        BackendUnavailableError, match=r"(?s)image/tensorrt/fp16.*text/tensorrt/fp16"
    ):
        engines.open(tmp_path)


def test_precision_order() -> None:
    assert precision_order("GPU", Preference())[0] == "fp16"
    assert precision_order("CPU", Preference())[0] == "fp32"
    assert precision_order("CPU", Preference.parse("openvino:int8"))[0] == "int8"
    assert Preference.parse("openvino:bf16") == Preference("openvino", "fp32", bf16=True)


def test_encoder_end_to_end(engine_bundle: Path) -> None:
    with engines.open(engine_bundle) as enc:
        assert (enc.dim, enc.image_size) == (DIM, SIZE)
        assert enc.bundle_id == enc.manifest.bundle_id
        imgs = [Image.new("RGB", (30 + i, 20), (40 * i, 255 - 30 * i, 90)) for i in range(6)]
        pixels = np.stack([enc.preprocess(im) for im in imgs])
        np.testing.assert_allclose(enc.encode_images(imgs), reference_image(pixels), atol=2e-5)
        texts = ["a red circle", "a blue square on a green background", ""]
        ids = enc.tokenize(texts)
        out = enc.encode_text(texts)
        np.testing.assert_allclose(out, reference_text(ids), atol=2e-5)
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
        assert out.dtype == np.float32 and out.flags.c_contiguous
        assert enc.encode_text([]).shape == (0, DIM)
        assert enc.encode_images([]).shape == (0, DIM)
        info = enc.describe()
        assert info["image.backend"] == "openvino" and info["text.tower"] == "text"


def test_open_with_cache_dir(engine_bundle: Path, tmp_path: Path) -> None:
    with engines.open(engine_bundle, prefer="openvino", cache_dir=tmp_path / "c") as enc:
        enc.encode_text(["x"])
    assert any((tmp_path / "c").iterdir())


def test_builder_tiny_bundle(tiny_bundle: Path) -> None:
    """The builder's bundle loads and embeds consistently on both CPU backends."""
    bundle = tiny_bundle
    for prefer in ("onnxruntime", "openvino"):
        with engines.open(bundle, prefer=prefer) as enc:
            out = enc.encode_text(["a red circle", "a blue square"])
            assert out.shape == (2, enc.dim)
            np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-4)


def test_cutting_text_padding_is_exact(tiny_bundle: Path) -> None:
    """The dynamic-length text graph gives the same embedding with or without padding."""
    texts = ["a red circle", "a much longer caption about a small blue square on grass", ""]
    for prefer in ("onnxruntime", "openvino"):
        with engines.open(tiny_bundle, prefer=prefer) as enc:
            ids = enc.tokenize(texts)
            trimmed = trim_padding(ids, enc.manifest.text.eot_token)
            assert trimmed.shape[1] < ids.shape[1]
            assert (trimmed[:, -1] == 0).any()  # shorter rows keep some padding
            full = enc.text_runner.run(ids)
            np.testing.assert_allclose(enc.encode_text(texts), full, atol=1e-5)
            np.testing.assert_allclose(enc.text_runner.run(trimmed), full, atol=1e-5)


def test_text_widths_come_in_steps_so_few_shapes_are_ever_compiled() -> None:
    """Every query length made its own input shape, and OpenVINO keeps kernels and
    buffers per shape (+253 MB of RSS over a tagging run and a day of searches)."""
    eot, context = 9, 77
    widths = set()
    for n in range(0, 80):
        ids = np.zeros((1, context), np.int64)
        ids[0, : min(n, context - 1)] = 5
        ids[0, min(n, context - 1)] = eot
        widths.add(trim_padding(ids, eot).shape[1])
    assert widths == {8, 16, 24, 32, 40, 48, 56, 64, 72, 77}
