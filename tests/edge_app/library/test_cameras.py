"""Camera make/model normalisation on EXIF strings as real cameras and phones write them."""

from __future__ import annotations

import pytest

from edge_app.library.cameras import camera_key, camera_name, normalise_make

REAL = [
    (("NIKON CORPORATION", "NIKON D750"), ("Nikon", "D750")),
    (("Nikon", "D5300"), ("Nikon", "D5300")),
    (("Canon", "Canon EOS 5D Mark III"), ("Canon", "EOS 5D Mark III")),
    (("Canon Inc.", "Canon PowerShot G7 X"), ("Canon", "PowerShot G7 X")),
    (("OLYMPUS IMAGING CORP.", "E-M5"), ("Olympus", "E-M5")),
    (("OLYMPUS CORPORATION", "E-M1MarkII"), ("Olympus", "E-M1MarkII")),
    (("EASTMAN KODAK COMPANY", "KODAK Z981 DIGITAL CAMERA"), ("Kodak", "Z981 DIGITAL CAMERA")),
    (("FUJIFILM", "X-T3"), ("Fujifilm", "X-T3")),
    (("SAMSUNG", "SM-G991B"), ("Samsung", "SM-G991B")),
    (("samsung", "SM-A515F"), ("Samsung", "SM-A515F")),
    (("Apple", "iPhone 12 Pro"), ("Apple", "iPhone 12 Pro")),
    (("SONY", "DSC-RX100"), ("Sony", "DSC-RX100")),
    (("LG Electronics", "LG-H870"), ("LG", "LG-H870")),
    (("HUAWEI", "ELE-L29"), ("Huawei", "ELE-L29")),
    (("Panasonic", "DMC-FZ200"), ("Panasonic", "DMC-FZ200")),
    (("NIKON\x00\x00", "COOLPIX P900\x00"), ("Nikon", "COOLPIX P900")),
]


@pytest.mark.parametrize(("raw", "expected"), REAL)
def test_real_exif_strings(raw: tuple[str, str], expected: tuple[str, str]) -> None:
    assert camera_key(*raw) == expected


def test_one_make_per_maker() -> None:
    makes = {normalise_make(m) for m in ("NIKON CORPORATION", "Nikon", "NIKON", "nikon corp.")}
    assert makes == {"Nikon"}
    assert {normalise_make(m) for m in ("Canon", "Canon Inc.", "CANON INC")} == {"Canon"}


@pytest.mark.parametrize("junk", ["456 123", "", "   ", "Unknown", "NO NAME", "0000", None, "-"])
def test_junk_makes_are_dropped(junk: str | None) -> None:
    assert normalise_make(junk) is None
    assert camera_key(junk, "D750") is None
    assert camera_name(junk, "D750") is None


def test_junk_model_keeps_the_make() -> None:
    assert camera_key("Canon", "456 123") == ("Canon", None)
    assert camera_name("Canon", None) == "Canon"
    assert camera_name("NIKON CORPORATION", "NIKON D750") == "Nikon D750"
