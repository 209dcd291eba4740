"""Real photos with words drawn on them: OCR parity inputs, tests and the demo.

Why these: the backgrounds are real photographs bundled with scikit-image (a core
dependency, so no download), and the words are drawn with real fonts from Debian
(DejaVu for Latin, Noto CJK for Chinese), so detection and recognition see the
textures and glyph shapes they were trained for. No torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
BACKGROUNDS = ("coffee", "chelsea", "rocket", "astronaut")


class FontMissingError(RuntimeError):
    """A font the samples need is not installed (scripts/bootstrap.sh --test installs it)."""


@dataclass(frozen=True)
class Word:
    """A word to draw: text, font file, pixel size, top-left position, rotation (degrees)."""

    text: str
    font: Path = LATIN_FONT
    size: int = 40
    xy: tuple[int, int] = (20, 20)
    angle: float = 0.0
    color: tuple[int, int, int] = (255, 255, 255)
    box_color: tuple[int, int, int] | None = (20, 20, 20)


def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    if not path.is_file():
        raise FontMissingError(
            f"font {path} is not installed: apt-get install fonts-dejavu-core fonts-noto-cjk "
            "(scripts/bootstrap.sh --test does this)"
        )
    return ImageFont.truetype(str(path), size)


def background(name: str, scale: float = 1.0) -> Image.Image:
    """One of scikit-image's bundled real photos as an RGB PIL image."""
    import skimage.data

    img = Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
    if scale != 1.0:
        img = img.resize(
            (int(img.width * scale), int(img.height * scale)), Image.Resampling.LANCZOS
        )
    return img


def draw_words(img: Image.Image, words: Sequence[Word]) -> Image.Image:
    """Draw each word on a plate (like a sign or a label), rotated about its corner."""
    out = img.convert("RGB").copy()
    for word in words:
        face = font(word.font, word.size)
        left, top, right, bottom = (int(v) for v in face.getbbox(word.text))
        pad = max(4, word.size // 5)
        tile = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
        draw = ImageDraw.Draw(tile)
        if word.box_color is not None:
            draw.rectangle([0, 0, tile.width - 1, tile.height - 1], fill=(*word.box_color, 255))
        draw.text((pad - left, pad - top), word.text, font=face, fill=(*word.color, 255))
        if word.angle:
            tile = tile.rotate(word.angle, expand=True, resample=Image.Resampling.BICUBIC)
        out.paste(tile, word.xy, tile)
    return out


def vertical_word(text: str, size: int, xy: tuple[int, int], img: Image.Image) -> Image.Image:
    """Chinese written top-to-bottom (one character under the other), as on shop signs."""
    out = img.copy()
    face = font(CJK_FONT, size)
    draw = ImageDraw.Draw(out)
    pad = size // 4
    height = len(text) * (size + 4) + 2 * pad
    draw.rectangle([xy[0], xy[1], xy[0] + size + 2 * pad, xy[1] + height], fill=(250, 250, 240))
    for i, char in enumerate(text):
        draw.text((xy[0] + pad, xy[1] + pad + i * (size + 4)), char, font=face, fill=(200, 0, 0))
    return out


def parity_images() -> list[Image.Image]:
    """Builder parity inputs: each real background with English and Chinese words."""
    words = [
        [Word("OPEN 24 HOURS", xy=(30, 30)), Word("出口", CJK_FONT, 44, (60, 150))],
        [
            Word("PART 4711", size=36, xy=(40, 200), angle=8),
            Word("欢迎光临", CJK_FONT, 36, (40, 40)),
        ],
        [Word("Station Road", size=32, xy=(120, 300)), Word("SALE", size=56, xy=(300, 40))],
        [Word("NASA", size=48, xy=(300, 400)), Word("北京大学", CJK_FONT, 40, (30, 30))],
    ]
    return [draw_words(background(name), w) for name, w in zip(BACKGROUNDS, words, strict=True)]
