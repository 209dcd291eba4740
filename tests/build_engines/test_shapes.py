"""The synthetic shapes: deterministic, captioned right, and really the colour they claim."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from build_engines import shapes
from build_engines.shapes import ShapeSpec, ShapeSpecError


def _pixels(spec: ShapeSpec, size: tuple[int, int] = (128, 128)) -> np.ndarray:
    return np.asarray(shapes.render(spec, size), dtype=np.float64)


def _shape_mask(spec: ShapeSpec, size: tuple[int, int] = (128, 128)) -> np.ndarray:
    """Pixels far from the (flat) background colour: where the shape was drawn."""
    bg = np.array(shapes.BACKGROUND_RGB[spec.background], dtype=np.float64)
    return np.abs(_pixels(spec, size) - bg).sum(axis=2) > 90


def test_render_is_deterministic_and_seeded() -> None:
    spec = ShapeSpec(shapes.SHAPES[-1], "red", "noisy", seed=5)
    a, b = shapes.render(spec), shapes.render(spec)
    assert a.tobytes() == b.tobytes()
    other = ShapeSpec(spec.shape, spec.color, spec.background, seed=6)
    assert shapes.render(other).tobytes() != a.tobytes()


def test_render_mode_and_size() -> None:
    img = shapes.render(ShapeSpec("circle", "green", "white"), size=(160, 96))
    assert img.mode == "RGB"
    assert img.size == (160, 96)


def test_caption_and_variants() -> None:
    spec = ShapeSpec("circle", "red", "white")
    assert shapes.caption(spec) == "a red circle on a white background"
    assert shapes.short_caption(spec) == "a red circle"
    variants = shapes.caption_variants(spec)
    assert variants[0] == shapes.caption(spec)
    assert "a red circle" in variants and "red circle" in variants
    assert all("red" in v and "circle" in v for v in variants)


def test_palette_distinguishes_red_from_blue_under_channel_swap() -> None:
    """BGR-swapped red must look like blue: that is what makes channel bugs visible."""
    red, blue = shapes.COLOR_RGB["red"], shapes.COLOR_RGB["blue"]
    swapped = tuple(reversed(red))
    assert _nearest(swapped) == "blue"
    assert _nearest(tuple(reversed(blue))) == "red"
    assert red[0] - red[2] > 150


def _nearest(rgb: tuple[int, ...]) -> str:
    return min(
        shapes.COLORS,
        key=lambda c: sum((a - b) ** 2 for a, b in zip(shapes.COLOR_RGB[c], rgb, strict=True)),
    )


@pytest.mark.parametrize("color", shapes.COLORS)
def test_colour_is_rendered(color: str) -> None:
    spec = ShapeSpec("circle", color, "gray", size=0.6, seed=3)
    centre = _pixels(spec)[54:74, 54:74].reshape(-1, 3).mean(axis=0)
    assert np.abs(centre - np.array(shapes.COLOR_RGB[color])).max() < 25
    assert _nearest(tuple(int(v) for v in centre)) == color


def test_red_is_red_and_blue_is_blue() -> None:
    red = _pixels(ShapeSpec("square", "red", "white", seed=1))
    blue = _pixels(ShapeSpec("square", "blue", "white", seed=1))
    mask = _shape_mask(ShapeSpec("square", "red", "white", seed=1))
    assert mask.sum() > 500
    r_px, b_px = red[mask], blue[mask]
    assert (r_px[:, 0] - r_px[:, 2]).mean() > 120
    assert (b_px[:, 2] - b_px[:, 0]).mean() > 120


def test_shape_areas_match_geometry() -> None:
    """A circle fills pi r^2, a square (circumradius r) 2 r^2: the outlines are real shapes."""
    r = 0.5 * 0.6 * 128
    circle = _shape_mask(ShapeSpec("circle", "blue", "white", size=0.6)).sum()
    square = _shape_mask(ShapeSpec("square", "blue", "white", size=0.6)).sum()
    triangle = _shape_mask(ShapeSpec("triangle", "blue", "white", size=0.6)).sum()
    assert circle == pytest.approx(math.pi * r * r, rel=0.06)
    assert square == pytest.approx(2 * r * r, rel=0.08)
    assert triangle == pytest.approx(3 * math.sqrt(3) / 4 * r * r, rel=0.08)


def test_position_and_rotation() -> None:
    left = _shape_mask(ShapeSpec("square", "red", "black", x=0.25, y=0.5, size=0.3))
    ys, xs = np.nonzero(left)
    assert xs.mean() == pytest.approx(32, abs=2)
    assert ys.mean() == pytest.approx(64, abs=2)
    upright = _shape_mask(ShapeSpec("triangle", "red", "black", size=0.6))
    turned = _shape_mask(ShapeSpec("triangle", "red", "black", size=0.6, rotation=60.0))
    assert (upright != turned).sum() > 0.3 * upright.sum()


def test_noisy_background_is_textured() -> None:
    flat = _pixels(ShapeSpec("circle", "red", "white", x=0.8, y=0.8, size=0.2))[:40, :40]
    noisy = _pixels(ShapeSpec("circle", "red", "noisy", x=0.8, y=0.8, size=0.2))[:40, :40]
    assert noisy.std() > 3 * flat.std()


def test_random_specs_are_seeded_varied_and_inside_the_frame() -> None:
    specs = shapes.random_specs(200, seed=7)
    assert specs == shapes.random_specs(200, seed=7)
    assert specs != shapes.random_specs(200, seed=8)
    assert {s.shape for s in specs} == set(shapes.SHAPES)
    assert {s.color for s in specs} == set(shapes.COLORS)
    assert {s.background for s in specs} == set(shapes.BACKGROUNDS)
    for s in specs:
        assert s.size / 2 <= s.x <= 1 - s.size / 2
        assert s.size / 2 <= s.y <= 1 - s.size / 2


def test_gallery_has_every_combination_once() -> None:
    labels = [s.label for s in shapes.gallery_specs(seed=3)]
    assert labels == list(shapes.iter_labels())
    assert len(set(labels)) == len(shapes.SHAPES) * len(shapes.COLORS)


@pytest.mark.parametrize(("fmt", "pil_format"), [("jpg", "JPEG"), ("png", "PNG")])
def test_write_folder_writes_decodable_files(tmp_path: Path, fmt: str, pil_format: str) -> None:
    written = shapes.write_folder(tmp_path / "out", n=6, seed=11, size=(96, 64), fmt=fmt)
    assert len(written) == 6
    assert [spec for _, spec in written] == shapes.random_specs(6, seed=11)
    for path, _spec in written:
        assert path.parent == tmp_path / "out"
        with Image.open(path) as img:
            assert img.format == pil_format
            assert img.size == (96, 64)
            img.load()


def test_png_round_trips_exactly(tmp_path: Path) -> None:
    [(path, spec)] = shapes.write_folder(tmp_path, n=1, seed=2, size=(64, 64), fmt="png")
    with Image.open(path) as img:
        assert img.tobytes() == shapes.render(spec, (64, 64)).tobytes()


def test_errors_name_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ShapeSpecError, match="unknown shape"):
        ShapeSpec("hexagon", "red", "white")
    with pytest.raises(ShapeSpecError, match="unknown color"):
        ShapeSpec("circle", "teal", "white")
    with pytest.raises(ShapeSpecError, match="size"):
        ShapeSpec("circle", "red", "white", size=0.0)
    with pytest.raises(ShapeSpecError, match="format"):
        shapes.write_folder(tmp_path, n=1, seed=0, fmt="gif")
    with pytest.raises(ShapeSpecError):
        shapes.random_specs(-1, seed=0)
