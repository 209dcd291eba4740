"""Preprocessing as data: `ImagePreprocessor` reproduces each family's reference processor.

Reference: transformers' CLIP, SigLIP and Chinese-CLIP image processors (PIL backend), on
real JPEG photos generated here (gradients, noise and shapes, odd sizes and both
orientations so resize rounding and crop offsets are exercised). Gate: 1/255 per pixel.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from build_engines.models.hf_image import image_spec_from_processor
from engines.preprocess import ImagePreprocessor

SIZES = [(640, 480), (479, 641), (333, 500), (1001, 999), (224, 224), (97, 150), (227, 224)]


def _photo(width: int, height: int, seed: int) -> Image.Image:
    """A photo-like JPEG: smooth gradients, sensor noise, hard edges, then JPEG coding."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1) * 200
    noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(noisy, "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((x0, y0, x0 + width // 4, y0 + height // 5), fill=color)
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    with Image.open(io.BytesIO(buf.getvalue())) as decoded:
        return decoded.convert("RGB")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Image.Image]:
    root: Path = tmp_path_factory.mktemp("photos")
    out = []
    for i, (w, h) in enumerate(SIZES):
        _photo(w, h, i).save(root / f"p{i}.jpg", quality=90)
        with Image.open(root / f"p{i}.jpg") as img:
            out.append(img.convert("RGB"))
    gray = Image.open(root / "p0.jpg").convert("L")  # a greyscale photo: converted to RGB
    return [*out, gray]


def _processors() -> dict[str, Any]:
    from transformers.models.chinese_clip.image_processing_pil_chinese_clip import (
        ChineseCLIPImageProcessorPil,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    return {
        "clip": CLIPImageProcessorPil(),
        "chinese-clip": ChineseCLIPImageProcessorPil(),
        "chinese-clip-squash": ChineseCLIPImageProcessorPil(
            size={"height": 224, "width": 224}, do_center_crop=False
        ),
        "siglip": SiglipImageProcessorPil(),
        "siglip-bilinear-384": SiglipImageProcessorPil(
            size={"height": 384, "width": 384}, resample=Image.Resampling.BILINEAR
        ),
    }


@pytest.mark.parametrize("family", list(_processors()))
def test_matches_reference_processor(photos: list[Image.Image], family: str) -> None:
    proc = _processors()[family]
    spec = image_spec_from_processor(proc)
    ours = ImagePreprocessor(spec).batch(photos)
    ref = np.asarray(proc(images=photos, return_tensors="np")["pixel_values"], np.float32)
    assert ours.shape == ref.shape
    std = np.asarray(spec.std, np.float32).reshape(1, 3, 1, 1)
    worst = float(np.abs(ours - ref).max() * std.max() * 255)  # back in 0..255 pixel units
    assert worst <= 1.0, f"{family}: {worst:.3f}/255"


def test_family_specs_are_recorded() -> None:
    specs = {k: image_spec_from_processor(p) for k, p in _processors().items()}
    assert specs["clip"].resize == "shortest" and specs["clip"].crop_rounding == "floor"
    assert specs["siglip"].resize == "squash" and specs["siglip"].mean == (0.5, 0.5, 0.5)
    assert specs["siglip-bilinear-384"].interpolation == "bilinear"
    assert specs["siglip-bilinear-384"].size == 384


def test_crop_rounding_matters(photos: list[Image.Image]) -> None:
    """An odd margin: torchvision rounds the offset, transformers floors it (1 px apart)."""
    from dataclasses import replace

    spec = image_spec_from_processor(_processors()["clip"])
    odd = [p for p in photos if p.size == (227, 224)]  # margin 3: offset 1.5
    floor = ImagePreprocessor(spec).batch(odd)
    rounded = ImagePreprocessor(replace(spec, crop_rounding="round")).batch(odd)
    assert not np.allclose(floor, rounded)
