"""Image preprocessing: geometry like torchvision's Resize+CenterCrop, RGB CHW order."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engines.manifest import ImageSpec
from engines.preprocess import ImagePreprocessor, centre_crop_box, shortest_side_size

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def _prep(size: int = 16, resize: str = "shortest") -> ImagePreprocessor:
    return ImagePreprocessor(ImageSpec(size=size, mean=MEAN, std=STD, resize=resize))


def test_pure_red_is_channel_zero() -> None:
    out = _prep()(Image.new("RGB", (40, 30), (255, 0, 0)))
    assert out.shape == (3, 16, 16) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out[0], (1 - MEAN[0]) / STD[0], rtol=1e-6)
    np.testing.assert_allclose(out[1], (0 - MEAN[1]) / STD[1], rtol=1e-6)
    np.testing.assert_allclose(out[2], (0 - MEAN[2]) / STD[2], rtol=1e-6)


def test_exact_normalisation_without_resize() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    out = _prep()(Image.fromarray(pixels))
    expected = (pixels.astype(np.float32) / 255 - np.array(MEAN, np.float32)) / np.array(
        STD, np.float32
    )
    np.testing.assert_allclose(out, expected.transpose(2, 0, 1), rtol=1e-6, atol=1e-6)


def test_torchvision_geometry() -> None:
    assert shortest_side_size(640, 480, 224) == (298, 224)
    assert shortest_side_size(480, 641, 224) == (224, 299)
    assert centre_crop_box(298, 224, 224) == (37, 0, 261, 224)
    assert centre_crop_box(225, 225, 224) == (0, 0, 224, 224)  # round(0.5) == 0


def test_centre_crop_keeps_the_middle() -> None:
    # 48x16: left third red, middle green, right blue -> resized 48x16, crop keeps green
    img = Image.new("RGB", (48, 16), (255, 0, 0))
    img.paste((0, 255, 0), (16, 0, 32, 16))
    img.paste((0, 0, 255), (32, 0, 48, 16))
    out = _prep()(img)
    assert (out[1, :, 4:12] > out[0, :, 4:12]).all()
    assert (out[1, :, 4:12] > out[2, :, 4:12]).all()


def test_squash_keeps_everything() -> None:
    img = Image.new("RGB", (48, 16), (255, 0, 0))
    img.paste((0, 0, 255), (32, 0, 48, 16))
    out = _prep(resize="squash")(img)
    assert out[2, :, -1].mean() > out[0, :, -1].mean()  # blue survives at the right edge
    assert _prep(resize="shortest")(img)[2, :, -1].mean() < out[2, :, -1].mean()


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK"])
def test_other_modes_become_rgb(mode: str) -> None:
    img = Image.new("RGB", (20, 20), (10, 200, 30)).convert(mode)
    assert _prep()(img).shape == (3, 16, 16)


def test_batch_shapes() -> None:
    prep = _prep()
    imgs = [Image.new("RGB", (20, 30), (i * 20, 0, 0)) for i in range(3)]
    batch = prep.batch(imgs)
    assert batch.shape == (3, 3, 16, 16)
    np.testing.assert_array_equal(batch[2], prep(imgs[2]))
    assert prep.batch([]).shape == (0, 3, 16, 16)


def test_unknown_resize_is_rejected() -> None:
    with pytest.raises(ValueError, match="shortest|squash"):
        _prep(resize="pad")
