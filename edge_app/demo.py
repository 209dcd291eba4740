"""``edge-app demo``: from nothing to a searchable library in one command.

Why it exists: the first thing anyone does with the appliance is check that search by
meaning works. Without a real CLIP checkpoint there is nothing to search with, so the
demo uses the synthetic toy-shapes model (it knows coloured shapes only), pre-built and
shipped in ``edge_app/data/toy-shapes`` so that no builder (torch) is needed, and says so
plainly, together with how to use a real model. Without photos it writes a sample set:
generated shape photos the toy model understands, and scikit-image's bundled sample
photos (astronaut, coffee, cat, rocket, ...), which it does not, to show what a toy
model cannot do. Then it indexes them like any library and runs example searches.

`run_demo` is a plain function (no printing: it reports through ``say``) so the web UI
can run it and then serve the result.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edge_app.errors import ConfigError
from edge_app.indexing.pipeline import IndexReport
from edge_app.indexing.scanner import scan
from edge_app.search.service import SearchResult
from edge_app.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MODEL",
    "EXAMPLE_QUERIES",
    "PREBUILT_BUNDLE",
    "DemoResult",
    "DemoSearch",
    "run_demo",
    "write_samples",
]

DEFAULT_MODEL = "toy-shapes"
#: Built by `python -m build_engines.demo_bundle` (OpenVINO int8w, 5 MB; PROVENANCE.json).
PREBUILT_BUNDLE = Path(__file__).resolve().parent / "data" / DEFAULT_MODEL
EXAMPLE_QUERIES = ("a red circle", "a green triangle")
SKIMAGE_SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina")
SHAPE_POOL = 500  # random specs to pick one photo per (colour, shape) from
SAMPLES_DIR = "demo-samples"
TOP_K = 5

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoSearch:
    query: str
    hits: tuple[SearchResult, ...]


@dataclass(frozen=True)
class DemoResult:
    """``settings`` are the effective ones (``bundle_dir`` points at the bundle used)."""

    settings: Settings
    photos_dir: Path
    built_bundle: bool
    report: IndexReport
    searches: tuple[DemoSearch, ...]


def run_demo(
    settings: Settings,
    photos_dir: Path | None,
    model: str | None,
    *,
    say: Say = log.info,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    queries: Sequence[str] = EXAMPLE_QUERIES,
) -> DemoResult:
    """Ensure a bundle, put photos in the library, index them, run example searches."""
    from edge_app.context import AppContext

    settings, built = ensure_bundle(settings, model, say)
    settings.ensure_dirs()
    target = place_photos(settings, photos_dir, say)
    with AppContext.open(settings) as ctx:
        if on_progress is not None:
            ctx.progress.add_listener(on_progress)
        say(f"indexing {target} with {ctx.encoder.describe().get('image.backend', 'the encoder')}")
        report = ctx.index_library([target])
        searches = tuple(DemoSearch(q, tuple(ctx.search.search(q, limit=TOP_K))) for q in queries)
    return DemoResult(settings, target, built, report, searches)


def ensure_bundle(settings: Settings, model: str | None, say: Say) -> tuple[Settings, bool]:
    """The configured bundle, or one built from ``model`` (default: the toy model)."""
    from engines.manifest import MANIFEST_NAME

    if model is None and (settings.bundle_dir / MANIFEST_NAME).is_file():
        return settings, False
    name = model or DEFAULT_MODEL
    if model is None:
        say(
            f"No engine bundle is configured ({settings.bundle_dir} has none), so the demo "
            "uses the synthetic toy-shapes model: it understands coloured shapes only, not "
            "real photos. To search your photos by meaning, export a real CLIP model with "
            "`edge-build export --model /path/to/clip --out DIR` and pass `--bundle DIR`."
        )
    out = settings.data_dir / "bundles" / _slug(name)
    built = not (out / MANIFEST_NAME).is_file() and _put_bundle(name, model is None, out, say)
    return replace(settings, bundle_dir=out), built


def _put_bundle(name: str, default: bool, out: Path, say: Say) -> bool:
    """Copy the shipped toy bundle (the default) or build ``name``; True when built."""
    from engines.manifest import MANIFEST_NAME

    if default and (PREBUILT_BUNDLE / MANIFEST_NAME).is_file():
        say(f"using the pre-built {name} bundle shipped with the app (no builder needed)")
        _into_place(out, lambda partial: shutil.copytree(PREBUILT_BUNDLE, partial))
        return False
    say(f"building the {name} engine bundle in {out} (takes a minute or two)")
    _build(name, out)
    return True


def _into_place(out: Path, fill: Callable[[Path], object]) -> None:
    """``fill`` a scratch folder, then rename it: ``out`` appears only once complete."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    fill(partial)
    partial.replace(out)


def _build(model: str, out: Path) -> None:
    """Run the host-side builder; the only place the app touches torch (lazily)."""
    if importlib.util.find_spec("torch") is None:
        raise ConfigError(
            "building a bundle needs the builder (torch): `pip install edge-photo-search[build]`"
            ", or build one on another machine and pass `--bundle DIR`"
        )
    from build_engines.api import build_bundle
    from build_engines.errors import BuildError

    targets = ("onnx", "openvino") if importlib.util.find_spec("openvino") else ("onnx",)
    try:
        _into_place(out, lambda partial: build_bundle(model, partial, targets=targets))
    except BuildError as exc:
        raise ConfigError(f"building the {model} bundle failed: {exc}") from exc


def place_photos(settings: Settings, photos_dir: Path | None, say: Say) -> Path:
    """Copy ``photos_dir`` into the library (or write the samples); returns the folder."""
    if photos_dir is None:
        target = settings.library_dir / SAMPLES_DIR
        count = write_samples(target)
        say(f"sample photos in {target} ({count} new)")
        return target
    source = Path(photos_dir).resolve()
    if not source.is_dir():
        raise ConfigError(f"--photos {photos_dir} is not a folder")
    library = settings.library_dir.resolve()
    if source.is_relative_to(library):
        return source
    target = library / "demo" / source.name
    say(f"copied {copy_photos(source, target)} photos from {source} into {target}")
    return target


def copy_photos(source: Path, target: Path) -> int:
    """Copy the photos the scanner would index (no hidden/system files, no link escapes)."""
    copied = 0
    for item in scan(source).files:
        dest = target / item.rel_path
        if dest.is_file() and dest.stat().st_size == item.size:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(item.abs_path, dest)
        copied += 1
    return copied


def write_samples(target: Path) -> int:
    """Shape photos (every colour x shape once) + scikit-image photos, as JPEGs; idempotent."""
    shapes = target / "shapes"
    written = 0 if shapes.is_dir() else _write_shape_samples(shapes)
    return written + _write_skimage_samples(target / "scikit-image")


def _write_shape_samples(folder: Path) -> int:
    """One photo per (colour, shape): "a red circle" then has exactly one right answer."""
    from build_engines.shapes import random_specs, render

    first: dict[tuple[str, str], Any] = {}
    for spec in random_specs(SHAPE_POOL, seed=7):
        first.setdefault((spec.color, spec.shape), spec)
    tmp = folder.with_name(folder.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    for i, ((color, shape), spec) in enumerate(sorted(first.items())):
        render(spec, size=(320, 240)).save(tmp / f"{i:02d}_{color}_{shape}.jpg", quality=90)
    tmp.replace(folder)
    return len(first)


def _write_skimage_samples(folder: Path) -> int:
    import skimage.data
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for name in SKIMAGE_SAMPLES:
        path = folder / f"{name}.jpg"
        if path.is_file():
            continue
        pixels = getattr(skimage.data, name)()
        Image.fromarray(pixels).convert("RGB").save(path, "JPEG", quality=92)
        written += 1
    return written


def _slug(model: str) -> str:
    """A folder name for a model spec ("/models/clip-vit-b32" -> "clip-vit-b32")."""
    name = Path(model.rstrip("/")).name if "/" in model else model
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"
