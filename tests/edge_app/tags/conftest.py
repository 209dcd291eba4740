"""A real library indexed by the toy-shapes bundle (ONNX Runtime), shared per module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from build_engines.shapes import COLORS, SHAPES
from edge_app.library.tags import LabelDef

Shapes = list[tuple[Path, Any]]

COLOUR_LABELS = [LabelDef(c, tuple(f"a {c} {s}" for s in SHAPES)) for c in COLORS]
SHAPE_LABELS = [LabelDef(s, tuple(f"a {c} {s}" for c in COLORS), pooling="any") for s in SHAPES]


@pytest.fixture(scope="module")
def tag_ctx(
    tmp_path_factory: pytest.TempPathFactory, toy_bundle: Path, shapes_photos: Shapes
) -> Iterator[Any]:
    from edge_app.context import AppContext
    from edge_app.settings import Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("tags") / "data", bundle_dir=toy_bundle,
        backend_prefer="onnxruntime", host="127.0.0.1", batch_size=8, decode_workers=1,
        tag_threshold=0.75, tag_builtin_sets="",
    )  # fmt: skip
    settings.library_dir.mkdir(parents=True)
    for path, _spec in shapes_photos:
        shutil.copy2(path, settings.library_dir / path.name)
    ctx = AppContext.open(settings)
    ctx.index_library()
    yield ctx
    ctx.close()


def truth_matrix(
    ctx: Any, ids: np.ndarray, shapes: Shapes, attr: str, names: list[str]
) -> np.ndarray:
    """(N, L) booleans: does photo i show label j (from the spec it was drawn from)?"""
    spec = {p.name: s for p, s in shapes}
    photos = {p.id: p for p in ctx.library.get_photos([int(i) for i in ids])}
    return np.array(
        [[getattr(spec[photos[int(i)].rel_path], attr) == n for n in names] for i in ids]
    )
