"""PIL image -> normalised float32 CHW tensor, reproducing the model's own pipeline.

The manifest's `ImageSpec` is data: resize mode ("shortest": short side to S then centre
crop, as open_clip's `Resize -> CenterCrop` and transformers' CLIP/Chinese-CLIP processors
do; "squash": straight to S x S, as SigLIP's processor does), interpolation, crop
rounding, mean/std. Resizing is PIL's, which is what torchvision and transformers call
for PIL inputs, so results agree within 1/255 per pixel (tests check each family).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from engines.manifest import ImageSpec

_INTERPOLATION = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


def shortest_side_size(width: int, height: int, size: int) -> tuple[int, int]:
    """torchvision's Resize(int): short side -> size, long side truncated like int()."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def centre_crop_box(
    width: int, height: int, size: int, rounding: str = "round"
) -> tuple[int, int, int, int]:
    """CenterCrop offsets: torchvision rounds half to even ("round"); transformers'
    image processors floor ("floor"). A one-pixel shift is more than 1/255 on edges."""
    if rounding == "floor":
        left, top = (width - size) // 2, (height - size) // 2
    else:
        left, top = int(round((width - size) / 2.0)), int(round((height - size) / 2.0))
    return left, top, left + size, top + size


class ImagePreprocessor:
    """Turns PIL images into the `(3, S, S)` float32 input of the image tower."""

    def __init__(self, spec: ImageSpec) -> None:
        if spec.resize not in ("shortest", "squash"):
            raise ValueError(f"unknown ImageSpec.resize {spec.resize!r}: expected shortest|squash")
        if spec.crop_rounding not in ("round", "floor"):
            raise ValueError(f"unknown ImageSpec.crop_rounding {spec.crop_rounding!r}: round|floor")
        if spec.interpolation not in _INTERPOLATION:
            raise ValueError(
                f"unknown ImageSpec.interpolation {spec.interpolation!r}: "
                f"expected one of {sorted(_INTERPOLATION)}"
            )
        self.spec = spec
        self._resample = _INTERPOLATION[spec.interpolation]
        self._mean = np.asarray(spec.mean, dtype=np.float32).reshape(3, 1, 1)
        self._std = np.asarray(spec.std, dtype=np.float32).reshape(3, 1, 1)

    def _resize(self, img: Image.Image) -> Image.Image:
        size = self.spec.size
        if self.spec.resize == "squash":
            return img.resize((size, size), self._resample)
        w, h = shortest_side_size(img.width, img.height, size)
        if (w, h) != img.size:
            img = img.resize((w, h), self._resample)
        return img.crop(centre_crop_box(w, h, size, self.spec.crop_rounding))

    def __call__(self, img: Image.Image) -> np.ndarray:
        """One image -> `(3, S, S)` float32, C-contiguous, RGB channel order."""
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        arr = np.asarray(self._resize(rgb), dtype=np.float32) / np.float32(255.0)
        chw = arr.transpose(2, 0, 1)
        return np.ascontiguousarray((chw - self._mean) / self._std, dtype=np.float32)

    def batch(self, imgs: Sequence[Image.Image]) -> np.ndarray:
        """Several images -> `(N, 3, S, S)`; an empty sequence gives `(0, 3, S, S)`."""
        size = self.spec.size
        out = np.empty((len(imgs), 3, size, size), dtype=np.float32)
        for i, img in enumerate(imgs):
            out[i] = self(img)
        return out
