"""Real inputs for parity checks and int8 calibration: photos and captions.

Inputs go through the runtime's own preprocessing and tokenizer (`engines`), so parity
and quantisation see exactly what the appliance will feed the towers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from build_engines.captions import GENERIC_CAPTIONS
from build_engines.errors import BuildError, ConversionError
from build_engines.models.base import LoadedClip
from engines.preprocess import ImagePreprocessor

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
CAPTIONS_FILE = "captions.txt"
GENERATED_SEED = 20240607


@dataclass(frozen=True)
class CalibrationSet:
    """Preprocessed pixels and token ids, plus where they came from (for the manifest)."""

    pixels: np.ndarray  # (N, 3, S, S) float32
    tokens: np.ndarray  # (M, C) int64
    source: str

    def inputs(self, tower: str) -> np.ndarray:
        """The inputs of `tower` ("image" | "text")."""
        if tower == "image":
            return self.pixels
        if tower == "text":
            return self.tokens
        raise BuildError(f"unknown tower {tower!r}: expected 'image' or 'text'")


def tokenize(loaded: LoadedClip, captions: Sequence[str]) -> np.ndarray:
    """Captions -> int64 ids with the runtime tokenizer and the model's context length."""
    return loaded.tokenizer.runtime(loaded.context_length)(list(captions))


def from_dir(loaded: LoadedClip, calib_dir: Path, limit: int) -> CalibrationSet:
    """Up to `limit` photos of `calib_dir` (sorted) and its captions.txt (or built-in captions)."""
    if not calib_dir.is_dir():
        raise BuildError(f"--calib {calib_dir} is not a directory of photos")
    files = sorted(p for p in calib_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise BuildError(f"--calib {calib_dir} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    pre = ImagePreprocessor(loaded.image)
    pixels = pre.batch([_open(p) for p in files])
    captions = _captions(calib_dir)
    source = f"dir:{calib_dir.resolve()} ({len(files)} images, {len(captions)} captions)"
    return CalibrationSet(pixels, tokenize(loaded, captions), source)


def generated(loaded: LoadedClip, n: int, seed: int = GENERATED_SEED) -> CalibrationSet:
    """`n` rendered shapes photos and their captions: always available, even offline."""
    from build_engines import shapes

    specs = shapes.random_specs(n, seed)
    pixels = ImagePreprocessor(loaded.image).batch(shapes.render_many(specs, (256, 256)))
    captions = [shapes.caption_variants(s)[i % 4] for i, s in enumerate(specs)]
    captions += list(GENERIC_CAPTIONS)
    source = f"generated:shapes (n={n}, seed={seed}, {len(captions)} captions)"
    return CalibrationSet(pixels, tokenize(loaded, captions), source)


def reference_set(loaded: LoadedClip, calib_dir: Path | None, n: int = 32) -> CalibrationSet:
    """Parity inputs: the calibration photos when given, generated shapes otherwise."""
    return from_dir(loaded, calib_dir, n) if calib_dir is not None else generated(loaded, n, seed=7)


def agreement_set(loaded: LoadedClip, calib_dir: Path | None, n: int = 200) -> CalibrationSet:
    """Retrieval-agreement inputs: more photos than parity needs, so top-10 is selective."""
    return (
        from_dir(loaded, calib_dir, n) if calib_dir is not None else generated(loaded, n, seed=11)
    )


def int8_set(loaded: LoadedClip, calib_dir: Path | None, n: int = 300) -> CalibrationSet:
    """int8 calibration data; only built-in test models may calibrate on generated shapes."""
    if calib_dir is not None:
        return from_dir(loaded, calib_dir, n)
    if loaded.info.family == "builtin":
        log.info("int8 calibration of built-in %s on generated shapes", loaded.info.id)
        return generated(loaded, min(n, 64))
    raise ConversionError(
        f"int8 for {loaded.info.id} needs representative photos: pass --calib DIR "
        "(a few hundred of your photos; optional DIR/captions.txt, one caption a line)"
    )


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except OSError as exc:
        raise BuildError(f"calibration image {path} cannot be decoded ({exc}): remove it") from exc


def _captions(calib_dir: Path) -> list[str]:
    path = calib_dir / CAPTIONS_FILE
    if not path.is_file():
        return list(GENERIC_CAPTIONS)
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    captions = [ln for ln in lines if ln]
    if not captions:
        raise BuildError(f"{path} is empty: one caption per line, or delete the file")
    return captions
