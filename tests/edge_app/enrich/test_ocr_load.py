"""Photo decoding for OCR: bounded size (huge photos), EXIF orientation, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge_app.enrich.ocr_pass import load_for_ocr
from edge_app.errors import ImageDecodeError


def test_huge_photo_is_decoded_bounded(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (9000, 6000), (200, 30, 30)).save(path, quality=80)
    rgb = load_for_ocr(path, 2048, 100_000_000)
    assert rgb.shape == (1365, 2048, 3) and rgb.dtype == np.uint8


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new("RGB", (400, 200), (0, 0, 0)).save(path, exif=exif)
    assert load_for_ocr(path, 2048, 10**9).shape[:2] == (400, 200)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "not a readable image"), (b"hello", "not a readable image"), (None, "the file is gone")],
)
def test_unreadable_files_raise_a_reason(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "x.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageDecodeError, match=reason):
        load_for_ocr(path, 2048, 10**9)


def test_pixel_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (3000, 3000)).save(path)
    with pytest.raises(ImageDecodeError, match="exceeds the 1 MP limit"):
        load_for_ocr(path, 2048, 1_000_000)
