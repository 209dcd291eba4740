"""The real inputs every backend is timed on and compared with: one pool, saved once.

Parity must compare backends on the *same* preprocessed pixels and token ids, so the
parent prepares them with the runtime's own preprocessor and tokenizer and each worker
loads the .npy files. Generated shape images need no data; real photos (e.g.
/work/shared/photos) make the committed report's parity meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from edge_bench.captions import list_images


@dataclass(frozen=True)
class InputSet:
    pixels: Path
    tokens: Path
    images: int
    captions: int
    source: str


def _shape_images(workdir: Path, n: int, seed: int) -> tuple[list[Path], list[str]]:
    from build_engines.shapes import caption, write_folder

    written = write_folder(workdir / "shapes", n=n, seed=seed, size=(256, 256), fmt="jpg")
    return [p for p, _ in written], [caption(spec) for _, spec in written]


def _default_captions(n: int, seed: int) -> list[str]:
    from build_engines.shapes import caption, random_specs

    return [caption(s) for s in random_specs(n, seed)]


def prepare_inputs(
    bundle: Path,
    workdir: Path,
    n: int,
    seed: int = 0,
    images_dir: Path | None = None,
    captions: list[str] | None = None,
    image_paths: list[Path] | None = None,
) -> InputSet:
    """Preprocess `n` images and tokenise `n` captions with the bundle's own specs."""
    from engines.bundle import load_bundle
    from engines.preprocess import ImagePreprocessor
    from engines.text_tokenizer import open_tokenizer

    b = load_bundle(bundle, verify=False)
    workdir.mkdir(parents=True, exist_ok=True)
    if image_paths:
        paths, texts = image_paths[:n], captions or _default_captions(n, seed)
        source = f"photos:{image_paths[0].parent}"
    elif images_dir is not None:
        paths = list_images(images_dir, n)
        if not paths:
            raise ValueError(f"no images found under {images_dir}")
        texts = captions or _default_captions(len(paths), seed)
        source = f"photos:{images_dir}"
    else:
        paths, texts = _shape_images(workdir, n, seed)
        source = f"generated shapes (n={n}, seed={seed})"
    pre = ImagePreprocessor(b.manifest.image)
    imgs = []
    for p in paths:
        with Image.open(p) as im:
            imgs.append(im.convert("RGB"))
    pixels = pre.batch(imgs).astype(np.float32)
    tokens = open_tokenizer(b)(texts[:n]).astype(np.int64)
    out = InputSet(workdir / "pixels.npy", workdir / "tokens.npy", len(paths), len(tokens), source)
    np.save(out.pixels, pixels)
    np.save(out.tokens, tokens)
    return out


def existing_inputs(folder: Path) -> InputSet:
    """Inputs prepared earlier (e.g. carried to the GPU machine, which has no bundle)."""
    pixels, tokens = folder / "pixels.npy", folder / "tokens.npy"
    if not (pixels.is_file() and tokens.is_file()):
        raise FileNotFoundError(f"{folder} lacks pixels.npy/tokens.npy: prepare them first")
    n_img = int(np.load(pixels, mmap_mode="r").shape[0])
    n_tok = int(np.load(tokens, mmap_mode="r").shape[0])
    return InputSet(pixels, tokens, n_img, n_tok, f"prepared:{folder}")
