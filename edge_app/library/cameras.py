"""Camera names as people know them: one make per maker, models without the make repeated.

Why hand-written: EXIF ``Make``/``Model`` are free text written by firmware ("NIKON
CORPORATION", "Nikon", "Canon", "OLYMPUS IMAGING CORP.", even "456 123"); no maintained
PyPI package maps them, and the rule set is small. Junk (no letters, placeholders) is
dropped so the camera filter lists only real cameras.
"""

from __future__ import annotations

import re

_SUFFIXES = re.compile(
    r"[\s,.]*\b(corporation|corp|company|co|ltd|inc|incorporated|imaging|optical|"
    r"electronics|electric|digital solutions|gmbh|ag|s\.?a)\b\.?",
    re.IGNORECASE,
)
_ALIASES = {
    "eastman kodak": "Kodak",
    "fujifilm": "Fujifilm",
    "fuji photo film": "Fujifilm",
    "konica minolta": "Konica Minolta",
    "pentax ricoh": "Pentax",
    "ricoh imaging": "Ricoh",
    "hmd global": "Nokia",
    "lg": "LG",
    "htc": "HTC",
    "dji": "DJI",
    "hp": "HP",
    "gopro": "GoPro",
    "oneplus": "OnePlus",
    "iphone": "Apple",
}
_JUNK = {"unknown", "no name", "none", "null", "default", "camera", "digital camera", "-"}


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _clean(raw: str | None) -> str:
    return " ".join((raw or "").replace("\x00", " ").split())


def normalise_make(raw: str | None) -> str | None:
    """'NIKON CORPORATION' and 'Nikon' -> 'Nikon'; junk ('456 123', 'Unknown') -> None."""
    text = _clean(raw)
    if not text or not _has_letters(text) or text.lower() in _JUNK:
        return None
    stripped = _SUFFIXES.sub("", text).strip(" ,.") or text
    alias = _ALIASES.get(stripped.lower())
    if alias:
        return alias
    if stripped.isupper() or stripped.islower():
        return " ".join(w.capitalize() for w in stripped.split())
    return stripped


def normalise_model(make: str | None, raw_model: str | None) -> str | None:
    """The model without a repeated make ('NIKON D750' under Nikon -> 'D750'); junk -> None."""
    text = _clean(raw_model)
    if not text or not _has_letters(text) and not any(ch.isdigit() for ch in text):
        return None
    if text.lower() in _JUNK or not _has_letters(text) and " " in text:
        return None
    words = text.split()
    if make and words and words[0].lower().rstrip(",.") in (make.lower(), make.lower().split()[0]):
        words = words[1:]
    return " ".join(words) or None


def camera_key(raw_make: str | None, raw_model: str | None) -> tuple[str, str | None] | None:
    """(make, model) as shown in the filter, or None when the make is junk or missing."""
    make = normalise_make(raw_make)
    if make is None:
        return None
    return make, normalise_model(make, raw_model)


def camera_name(raw_make: str | None, raw_model: str | None) -> str | None:
    """'Nikon D750' for display; None when unknown."""
    key = camera_key(raw_make, raw_model)
    if key is None:
        return None
    return " ".join(p for p in key if p)
