"""A transformers image processor -> the manifest's `ImageSpec` (preprocessing as data).

CLIP / Chinese-CLIP processors resize the short side and centre-crop (offsets floored);
SigLIP's resizes straight to height x width. Anything this runtime cannot reproduce is
refused here, at build time, rather than served slightly wrong.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from build_engines.errors import ModelLoadError
from engines.manifest import ImageSpec

RESAMPLE_NAMES = {
    Image.Resampling.BICUBIC: "bicubic",
    Image.Resampling.BILINEAR: "bilinear",
    Image.Resampling.NEAREST: "nearest",
    Image.Resampling.LANCZOS: "lanczos",
}


def _get(size: Any, key: str) -> int | None:
    value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
    return None if value is None else int(value)


def _interpolation(resample: Any) -> str:
    try:
        return RESAMPLE_NAMES[Image.Resampling(int(resample))]
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelLoadError(f"image processor resample={resample!r} is not supported") from exc


def image_spec_from_processor(proc: Any) -> ImageSpec:
    """Resize mode, size, interpolation, mean/std of a transformers image processor."""
    if getattr(proc, "do_rescale", True) and abs(float(proc.rescale_factor) - 1 / 255) > 1e-9:
        raise ModelLoadError(f"rescale_factor {proc.rescale_factor} != 1/255 is not supported")
    mean = tuple(float(x) for x in proc.image_mean)
    std = tuple(float(x) for x in proc.image_std)
    interpolation = _interpolation(proc.resample)
    short = _get(proc.size, "shortest_edge")
    if short is not None:
        crop = _get(proc.crop_size, "height") if getattr(proc, "do_center_crop", False) else None
        if crop is None or crop != _get(proc.crop_size, "width"):
            raise ModelLoadError("shortest-edge resize needs a square centre crop")
        if crop != short:
            raise ModelLoadError(f"resize {short} then crop {crop} is not supported (equal sides)")
        return ImageSpec(crop, mean, std, "shortest", interpolation, crop_rounding="floor")  # type: ignore[arg-type]
    height, width = _get(proc.size, "height"), _get(proc.size, "width")
    if height is None or height != width or getattr(proc, "do_center_crop", False):
        raise ModelLoadError(f"image processor size {proc.size!r}: expected a square resize")
    return ImageSpec(height, mean, std, "squash", interpolation, crop_rounding="floor")  # type: ignore[arg-type]
