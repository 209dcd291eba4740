"""Synthetic photos of coloured shapes, with the captions that describe them.

The toy-shapes CLIP is trained on these pictures and the tests search them, so that
"a red circle" finding red circles proves the whole chain (decode, channel order,
normalisation, tokenizer, pooling, export) carries meaning, not just numbers.

No torch here: the runtime tests, the demo and the trainer all import this module.
Everything is deterministic from a seed (Python's and numpy's seeded generators only).

Colours are chosen so that an RGB/BGR swap changes the answer: red and blue trade
places, yellow becomes a cyan that is none of the classes.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross")
COLOR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 35, 35),
    "green": (35, 165, 55),
    "blue": (35, 75, 225),
    "yellow": (240, 210, 25),
    "purple": (140, 55, 185),
}
COLORS: tuple[str, ...] = tuple(COLOR_RGB)
BACKGROUND_RGB: dict[str, tuple[int, int, int]] = {
    "white": (242, 242, 242),
    "black": (18, 18, 18),
    "gray": (128, 128, 128),
    "noisy": (128, 128, 128),  # mean level; the texture is added by `_background`
}
BACKGROUNDS: tuple[str, ...] = tuple(BACKGROUND_RGB)
FORMATS: dict[str, str] = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG"}

_SUPERSAMPLE = 3  # draw the mask larger then shrink it: anti-aliased edges like a photo
_COLOR_JITTER = 14  # per-channel +- jitter so the model cannot memorise one exact RGB
_SENSOR_NOISE = 6.0  # std of per-pixel noise on every background


class ShapeSpecError(ValueError):
    """A spec or argument names something this generator cannot draw."""


@dataclass(frozen=True)
class ShapeSpec:
    """One picture: what is drawn, where, and the seed of its noise and jitter.

    ``x``/``y`` are the shape's centre as fractions of the width/height, ``size`` its
    diameter as a fraction of the shorter side, ``rotation`` in degrees.
    """

    shape: str
    color: str
    background: str
    x: float = 0.5
    y: float = 0.5
    size: float = 0.5
    rotation: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        """Fail at construction, naming the valid choices, not deep inside render()."""
        for value, choices, what in (
            (self.shape, SHAPES, "shape"),
            (self.color, COLORS, "color"),
            (self.background, BACKGROUNDS, "background"),
        ):
            if value not in choices:
                raise ShapeSpecError(f"unknown {what} {value!r}: choose one of {choices}")
        if not 0.0 < self.size <= 1.0:
            raise ShapeSpecError(f"size {self.size} must be in (0, 1]: a fraction of the image")

    @property
    def label(self) -> tuple[str, str]:
        """(shape, colour): what a query like "a red circle" is about."""
        return (self.shape, self.color)


def caption(spec: ShapeSpec) -> str:
    """The full description, e.g. "a red circle on a white background"."""
    return f"a {spec.color} {spec.shape} on a {spec.background} background"


def short_caption(spec: ShapeSpec) -> str:
    """The query a person would type, e.g. "a red circle" (used for R@1)."""
    return f"a {spec.color} {spec.shape}"


def caption_variants(spec: ShapeSpec) -> tuple[str, ...]:
    """Phrasings used in training so short queries and full sentences both work.

    The first one is `caption(spec)`; all name the shape and the colour, and only the
    first also names the background.
    """
    c, s = spec.color, spec.shape
    return (caption(spec), f"a {c} {s}", f"{c} {s}", f"a photo of a {c} {s}")


# Chinese names (simplified, then traditional) for the bilingual toy model's captions.
SHAPE_ZH: dict[str, tuple[str, str]] = {
    "circle": ("圆形", "圓形"),
    "square": ("正方形", "正方形"),
    "triangle": ("三角形", "三角形"),
    "cross": ("十字", "十字"),
}
COLOR_ZH: dict[str, tuple[str, str]] = {
    "red": ("红色", "紅色"),
    "green": ("绿色", "綠色"),
    "blue": ("蓝色", "藍色"),
    "yellow": ("黄色", "黃色"),
    "purple": ("紫色", "紫色"),
}
BACKGROUND_ZH: dict[str, tuple[str, str]] = {
    "white": ("白色", "白色"),
    "black": ("黑色", "黑色"),
    "gray": ("灰色", "灰色"),
    "noisy": ("杂色", "雜色"),
}


def short_caption_zh(spec: ShapeSpec, traditional: bool = False) -> str:
    """The Chinese query, e.g. "红色的圆形" ("a red circle")."""
    i = int(traditional)
    return f"{COLOR_ZH[spec.color][i]}的{SHAPE_ZH[spec.shape][i]}"


def caption_variants_zh(spec: ShapeSpec, traditional: bool = False) -> tuple[str, ...]:
    """Chinese phrasings; the first names the background ("白色背景上的红色圆形")."""
    i = int(traditional)
    c, s, b = COLOR_ZH[spec.color][i], SHAPE_ZH[spec.shape][i], BACKGROUND_ZH[spec.background][i]
    one, photo = ("一個", "一張") if traditional else ("一个", "一张")
    return (f"{b}背景上的{c}{s}", f"{c}的{s}", f"{c}{s}", f"{one}{c}的{s}", f"{photo}{c}{s}的照片")


def render(spec: ShapeSpec, size: tuple[int, int] = (256, 256)) -> Image.Image:
    """Draw `spec` as an RGB image of `size` (W, H); identical output for identical input."""
    width, height = size
    if width < 8 or height < 8:
        raise ShapeSpecError(f"image size {size} is too small to draw a shape (min 8x8)")
    rng = np.random.default_rng(spec.seed)
    canvas = _background(spec.background, width, height, rng)
    mask = _shape_mask(spec, width, height)
    jitter = rng.integers(-_COLOR_JITTER, _COLOR_JITTER + 1, size=3)
    rgb = np.clip(np.array(COLOR_RGB[spec.color]) + jitter, 0, 255)
    shade = 1.0 + rng.normal(0.0, 0.02, size=(height, width, 1))  # slight surface texture
    fg = np.clip(rgb[None, None, :] * shade, 0, 255)
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
    out = canvas * (1.0 - alpha) + fg * alpha
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), mode="RGB")


def _background(name: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Float (H, W, 3) background; "noisy" is blotchy grey texture, the rest near-flat."""
    base = np.array(BACKGROUND_RGB[name], dtype=np.float32)
    img: np.ndarray = np.broadcast_to(base, (height, width, 3)).astype(np.float32)
    if name == "noisy":
        cells = rng.uniform(-50.0, 50.0, size=(max(2, height // 8), max(2, width // 8)))
        blotch = Image.fromarray(cells.astype(np.float32), mode="F").resize(
            (width, height), Image.Resampling.BILINEAR
        )
        fine = rng.normal(0.0, 12.0, size=(height, width))
        img = img + (np.asarray(blotch) + fine)[..., None]
    img = img + rng.normal(0.0, _SENSOR_NOISE, size=(height, width, 1))
    return np.clip(img, 0.0, 255.0)


def _shape_mask(spec: ShapeSpec, width: int, height: int) -> Image.Image:
    """Anti-aliased 'L' mask of the shape at (W, H)."""
    k = _SUPERSAMPLE
    big = Image.new("L", (width * k, height * k), 0)
    draw = ImageDraw.Draw(big)
    cx, cy = spec.x * width * k, spec.y * height * k
    radius = spec.size * min(width, height) * k / 2.0
    if spec.shape == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=255)
    else:
        draw.polygon(_polygon(spec.shape, cx, cy, radius, spec.rotation), fill=255)
    return big.resize((width, height), Image.Resampling.BOX).filter(ImageFilter.SMOOTH)


_CROSS_ARM = 0.32  # half-width of a cross arm relative to its reach


def _outline(shape: str) -> list[tuple[float, float]]:
    """Unrotated unit outline (reach 1): shapes that stay distinct even at 48 px."""
    if shape in ("square", "triangle"):
        n, start = (4, 45.0) if shape == "square" else (3, -90.0)
        angles = [math.radians(start + i * 360.0 / n) for i in range(n)]
        return [(math.cos(a), math.sin(a)) for a in angles]
    a = _CROSS_ARM  # cross (plus sign): 12 corners
    arm = [(a, 1.0), (a, a), (1.0, a)]
    quarter = [(x, y) for x, y in arm]
    points: list[tuple[float, float]] = []
    for _ in range(4):
        points.extend(quarter)
        quarter = [(y, -x) for x, y in quarter]
    return points


def _polygon(
    shape: str, cx: float, cy: float, radius: float, rotation: float
) -> list[tuple[float, float]]:
    """Outline of `shape` scaled to `radius` and rotated by `rotation` degrees about (cx, cy)."""
    cos, sin = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    return [
        (cx + radius * (x * cos - y * sin), cy + radius * (x * sin + y * cos))
        for x, y in _outline(shape)
    ]


def _random_spec(rng: random.Random, shape: str, color: str) -> ShapeSpec:
    """Random placement that keeps the whole shape (and a margin) inside the frame."""
    size = rng.uniform(0.45, 0.7)
    lo, hi = size / 2 + 0.04, 1.0 - size / 2 - 0.04
    return ShapeSpec(
        shape=shape,
        color=color,
        background=rng.choice(BACKGROUNDS),
        x=rng.uniform(lo, hi),
        y=rng.uniform(lo, hi),
        size=size,
        rotation=rng.uniform(0.0, 360.0),
        seed=rng.randrange(2**31),
    )


def random_specs(n: int, seed: int) -> list[ShapeSpec]:
    """`n` independent random pictures (any shape, colour, background, pose)."""
    if n < 0:
        raise ShapeSpecError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    return [_random_spec(rng, rng.choice(SHAPES), rng.choice(COLORS)) for _ in range(n)]


def gallery_specs(seed: int) -> list[ShapeSpec]:
    """Every (shape, colour) combination exactly once, random background and pose.

    Used for R@1: the query "a red circle" has exactly one right answer in the gallery.
    """
    rng = random.Random(seed)
    return [_random_spec(rng, s, c) for s in SHAPES for c in COLORS]


def iter_labels() -> Iterator[tuple[str, str]]:
    """All (shape, colour) combinations in a fixed order."""
    return ((s, c) for s in SHAPES for c in COLORS)


def write_folder(
    out_dir: Path,
    n: int,
    seed: int,
    size: tuple[int, int] = (256, 256),
    fmt: str = "jpg",
) -> list[tuple[Path, ShapeSpec]]:
    """Write `n` real image files to `out_dir` and return each path with its spec.

    File names (``0007_red_circle.jpg``) are for people; callers should use the
    returned specs, not parse names.
    """
    pil_format = FORMATS.get(fmt.lower())
    if pil_format is None:
        raise ShapeSpecError(f"unknown image format {fmt!r}: choose one of {tuple(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, ShapeSpec]] = []
    for i, spec in enumerate(random_specs(n, seed)):
        path = out / f"{i:04d}_{spec.color}_{spec.shape}.{fmt.lower()}"
        _save(render(spec, size), path, pil_format)
        written.append((path, spec))
    return written


def _save(img: Image.Image, path: Path, pil_format: str) -> None:
    """Save like a camera would (JPEG quality 90), so decode paths see real JPEG artefacts."""
    if pil_format == "JPEG":
        img.save(path, format="JPEG", quality=90)
    else:
        img.save(path, format=pil_format)


def jpeg_roundtrip(img: Image.Image, quality: int = 90) -> Image.Image:
    """`img` as it comes back from a JPEG file: training sees camera-file artefacts too."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return decoded.convert("RGB")


def render_many(specs: Sequence[ShapeSpec], size: tuple[int, int]) -> list[Image.Image]:
    """Render a batch (calibration sets, training, tests)."""
    return [render(s, size) for s in specs]
