"""Exposure details for the photo viewer's info panel: lens, shutter, aperture, ISO, focal length.

Why read at view time instead of stored columns: these fields are only ever shown for
one photo at a time, never filtered or sorted on, so reading the file's EXIF header when
the viewer opens (a few kB, no pixel decode) avoids a migration and a full re-index of
existing libraries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

_EXIF_IFD = 0x8769
_LENS_MAKE, _LENS_MODEL = 0xA433, 0xA434
_EXPOSURE_TIME, _F_NUMBER, _ISO, _FOCAL_LENGTH = 0x829A, 0x829D, 0x8827, 0x920A


@dataclass(frozen=True)
class ExposureDetails:
    """Display strings; ``None`` when the camera did not record the field."""

    lens: str | None = None
    exposure: str | None = None
    aperture: str | None = None
    iso: str | None = None
    focal_length: str | None = None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = " ".join(value.replace("\x00", " ").split())
    return text or None


def _number(value: object) -> float | None:
    if isinstance(value, tuple) and value:
        value = value[0]
    try:
        number = float(value)  # type: ignore[arg-type]  # IFDRational, int, float
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if number > 0 and number == number and number != float("inf") else None


def format_exposure(seconds: float | None) -> str | None:
    """0.004 -> '1/250 s', 2.5 -> '2.5 s' (how cameras display shutter speeds)."""
    if seconds is None:
        return None
    if seconds >= 1:
        return f"{seconds:g} s"
    return f"1/{round(1 / seconds)} s" if seconds > 0 else None


def _lens(make: str | None, model: str | None) -> str | None:
    if make and model and not model.lower().startswith(make.lower()):
        return f"{make} {model}"
    return model or make


def _details(sub: dict[int, object]) -> ExposureDetails:
    fnum, focal = _number(sub.get(_F_NUMBER)), _number(sub.get(_FOCAL_LENGTH))
    iso = _number(sub.get(_ISO))
    return ExposureDetails(
        lens=_lens(_text(sub.get(_LENS_MAKE)), _text(sub.get(_LENS_MODEL))),
        exposure=format_exposure(_number(sub.get(_EXPOSURE_TIME))),
        aperture=f"f/{Fraction(fnum).limit_denominator(10).__float__():g}" if fnum else None,
        iso=f"ISO {iso:g}" if iso else None,
        focal_length=f"{focal:g} mm" if focal else None,
    )


def read_exposure(path: Path) -> ExposureDetails:
    """The exposure fields of an image file; empty details when it has no readable EXIF."""
    try:
        with Image.open(path) as im:
            sub = dict(im.getexif().get_ifd(_EXIF_IFD))
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        # the indexer reports unreadable files; the viewer still shows what it knows
        log.warning("event=exif_unreadable path=%s error=%r", path.name, exc)
        return ExposureDetails()
    return _details(sub)
