"""The OCR runtime (engines.ocr) with the real PP-OCR models on ONNX Runtime and OpenVINO.

Photos are scikit-image's real photographs with words drawn in DejaVu and Noto CJK.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import engines
from build_engines.ocr_samples import (
    Word,
    background,
    draw_words,
    parity_images,
    vertical_word,
)
from engines.errors import EngineError, InputSpecError, OcrUnavailableError
from engines.ocr import open_ocr
from engines.ocr.detect import DetParams, det_input, order_points, unclip
from engines.ocr.engine import OcrEngine
from engines.ocr.recognize import ctc_decode, load_dictionary

BACKENDS = ("onnxruntime", "openvino")


@pytest.fixture(scope="module", params=BACKENDS)
def ocr(request: pytest.FixtureRequest, ocr_bundle: Path) -> Iterator[OcrEngine]:
    with open_ocr(ocr_bundle, prefer=str(request.param)) as engine:
        assert engine.det.backend == request.param and engine.rec.backend == request.param
        yield engine


def _texts(engine: OcrEngine, img: Image.Image | np.ndarray) -> list[str]:
    return [line.text for line in engine.read(img).lines]


def test_reads_english_and_chinese_words_on_real_photos(ocr: OcrEngine) -> None:
    got = [_texts(ocr, img) for img in parity_images()]
    assert got == [
        ["OPEN 24 HOURS", "出口"],
        ["欢迎光临", "PART 4711"],
        ["SALE", "Station Road"],
        ["北京大学", "NASA"],
    ]


def test_lines_have_boxes_inside_the_image_and_confidences(ocr: OcrEngine) -> None:
    img = draw_words(background("coffee"), [Word("INVOICE", size=48, xy=(100, 200))])
    result = ocr.read(img)
    [line] = result.lines
    xs, ys = [p[0] for p in line.box], [p[1] for p in line.box]
    assert 80 <= min(xs) < max(xs) <= 420 and 180 <= min(ys) < max(ys) <= 290
    assert 0.9 <= line.score <= 1.0


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([Word("ROTATED", size=40, xy=(200, 20), angle=90)], "ROTATED"),
        ([Word("UPSIDE DOWN", size=40, xy=(100, 100), angle=180)], "UPSIDE DOWN"),
        ([Word("SLANTED 42", size=40, xy=(80, 120), angle=15)], "SLANTED 42"),
    ],
)
def test_rotated_text(ocr: OcrEngine, words: list[Word], expected: str) -> None:
    assert _texts(ocr, draw_words(background("coffee"), words)) == [expected]


def test_vertical_chinese_text(ocr: OcrEngine) -> None:
    img = vertical_word("中国银行", 40, (50, 30), background("chelsea"))
    assert _texts(ocr, img) == ["中国银行"]


def test_photo_without_text_has_no_boxes(ocr: OcrEngine) -> None:
    img = background("chelsea")
    assert ocr.detect(img) == []
    result = ocr.read(img)
    assert result.lines == () and result.boxes_found == 0


def test_huge_image_is_detected_on_a_bounded_resize(ocr: OcrEngine) -> None:
    big = draw_words(background("rocket", 10.0), [Word("LAUNCH", size=400, xy=(1500, 1200))])
    assert big.size == (6400, 4270)
    x, _, _ = det_input(np.asarray(big), DetParams())
    assert max(x.shape[2:]) <= DetParams().max_side
    assert _texts(ocr, big) == ["LAUNCH"]


def test_bad_image_array_is_a_clear_error(ocr: OcrEngine) -> None:
    with pytest.raises(EngineError, match="HxWx3 uint8"):
        ocr.read(np.zeros((10, 10, 3), dtype=np.float32))


def test_runner_checks_ocr_inputs_against_the_manifest(ocr: OcrEngine) -> None:
    with pytest.raises(InputSpecError, match="dim 2 is 32 but the artifact fixes it to 48"):
        ocr.rec.run(np.zeros((1, 3, 32, 100), dtype=np.float32))


def test_ctc_decode_collapses_repeats_and_drops_blanks() -> None:
    classes = load_dictionary("a\nb\n")  # blank, a, b, space
    steps = [0, 1, 1, 0, 1, 2, 2, 3, 2]
    logits = np.eye(4, dtype=np.float32)[steps][None] * 0.9
    assert ctc_decode(logits, classes) == [("aab b", pytest.approx(0.9))]


def test_unclip_grows_a_box_and_corners_are_ordered() -> None:
    box = order_points(np.array([[50, 10], [10, 10], [10, 30], [50, 30]], np.float32))
    assert box.tolist() == [[10, 10], [50, 10], [50, 30], [10, 30]]
    grown = unclip(box, 1.6)
    assert grown is not None
    assert grown[:, 0].min() < 10 and grown[:, 0].max() > 50 and grown[:, 1].min() < 10


@pytest.fixture()
def broken_copy(ocr_bundle: Path, tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(ocr_bundle, out)
    return out


def test_damaged_ocr_model_is_a_clear_error_and_clip_still_opens(broken_copy: Path) -> None:
    det = broken_copy / "ocr" / "ocr_det_fp32.onnx"
    det.write_bytes(det.read_bytes()[:1000])
    with pytest.raises(OcrUnavailableError, match=r"ocr_det_fp32.onnx has \d+ bytes.*OCR is off"):
        open_ocr(broken_copy)
    with engines.open(broken_copy) as encoder:
        assert encoder.encode_text(["a photo"]).shape[0] == 1


def test_missing_ocr_dictionary_is_a_clear_error(broken_copy: Path) -> None:
    (broken_copy / "ocr" / "ppocr_keys_v1.txt").unlink()
    with pytest.raises(OcrUnavailableError, match="ppocr_keys_v1.txt is missing"):
        open_ocr(broken_copy)


def test_bundle_without_ocr_says_how_to_add_it(tiny_bundle: Path) -> None:
    with pytest.raises(OcrUnavailableError, match="edge-build add-ocr"):
        open_ocr(tiny_bundle)
