"""Exposure details (lens, shutter, aperture, ISO, focal length) from a real JPEG's EXIF."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational as Fraction

from edge_app.indexing.exif_details import ExposureDetails, format_exposure, read_exposure


def _jpeg(path: Path, sub: dict[int, object]) -> Path:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "NIKON CORPORATION", "NIKON D750"
    ifd = exif.get_ifd(0x8769)
    ifd.update(sub)
    Image.new("RGB", (32, 32), (10, 20, 30)).save(path, "JPEG", exif=exif)
    return path


def test_details_of_a_camera_jpeg(tmp_path: Path) -> None:
    path = _jpeg(tmp_path / "d750.jpg", {
        0x829A: Fraction(1, 250), 0x829D: Fraction(28, 10), 0x8827: 400,
        0x920A: Fraction(35, 1), 0xA433: "Nikon", 0xA434: "AF-S NIKKOR 24-120mm f/4G ED VR",
    })  # fmt: skip
    got = read_exposure(path)
    assert got == ExposureDetails(
        lens="Nikon AF-S NIKKOR 24-120mm f/4G ED VR",
        exposure="1/250 s",
        aperture="f/2.8",
        iso="ISO 400",
        focal_length="35 mm",
    )


def test_missing_fields_stay_none_and_unreadable_file_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert read_exposure(_jpeg(tmp_path / "plain.jpg", {})) == ExposureDetails()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    assert read_exposure(broken) == ExposureDetails()
    assert "exif_unreadable" in caplog.text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.004, "1/250 s"), (2.5, "2.5 s"), (1.0, "1 s"), (None, None)]
)
def test_shutter_speed_reads_like_a_camera(seconds: float | None, text: str | None) -> None:
    assert format_exposure(seconds) == text
