"""`edge-bench retag`: how long re-tagging takes at library scale (no image is encoded).

Synthetic unit vectors stand in for CLIP embeddings (the cost does not depend on what
they mean). Two figures, measured in one run: the in-memory maths (calibration sample +
one matrix product per chunk + threshold), and the appliance's real path
`Tagger.retag` over a real SQLite library (reads float16 blobs twice, writes the tags in
one transaction). Label vectors are stored beforehand, so the text encoder is never
called: `_NoTextEncoder` is a named stand-in that fails if it ever is.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_bench.report import results_markdown

BUNDLE = "synthetic-bench"


class _NoTextEncoder:
    """Stand-in encoder: label vectors are pre-stored, so text encoding must not happen."""

    bundle_id = BUNDLE

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("re-tagging benchmark must not encode text")


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _maths(emb: np.ndarray, labels: np.ndarray, threshold: float, chunk: int) -> tuple[float, int]:
    from edge_app.tags import scoring

    starts = np.arange(len(labels))
    t0 = time.perf_counter()
    sample = scoring.pooled_scores(emb[scoring.sample_rows(len(emb))], labels, starts)
    center, scale = scoring.calibrate(sample)
    assigned = 0
    thresholds = np.full(len(labels), threshold, np.float32)
    for i in range(0, len(emb), chunk):
        z = scoring.calibrated(
            scoring.pooled_scores(emb[i : i + chunk], labels, starts), center, scale
        )
        assigned += len(scoring.assign(z, thresholds)[0])
    return time.perf_counter() - t0, assigned


def _library_retag(
    emb: np.ndarray, labels: np.ndarray, threshold: float, log: Callable[[str], None]
) -> dict[str, Any]:
    from edge_app.library.records import PhotoMeta
    from edge_app.library.store import Library
    from edge_app.library.tags import LabelDef
    from edge_app.settings import Settings
    from edge_app.tags.tagger import Tagger

    with tempfile.TemporaryDirectory() as tmp, Library(Path(tmp) / "bench.db") as library:
        t0 = time.perf_counter()
        for i in range(0, len(emb), 5000):
            metas = [PhotoMeta(f"p/{j}.jpg", 1, 1) for j in range(i, min(i + 5000, len(emb)))]
            library.record_photos(list(zip(metas, emb[i : i + 5000], strict=True)), BUNDLE)
        log(f"stored {len(emb)} embeddings in {time.perf_counter() - t0:.1f} s")
        defs = [LabelDef(f"label {k}", ("x",)) for k in range(len(labels))]
        label_set = library.create_label_set("bench", defs)
        vectors = [(lab.id, labels[k : k + 1]) for k, lab in enumerate(label_set.labels)]
        library.save_label_vectors(label_set.id, label_set.version, vectors, BUNDLE)
        settings = Settings(data_dir=Path(tmp), tag_threshold=threshold)
        tagger = Tagger(settings, library, _NoTextEncoder())
        run = tagger.retag(label_set.id)
        return {"seconds": round(run.seconds, 3), "tags_written": run.tags}


def run_retag(
    photos: int, labels: int, dim: int, threshold: float, chunk: int, log: Callable[[str], None]
) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    emb, lab = _unit(rng, photos, dim), _unit(rng, labels, dim)
    maths_s, assigned = _maths(emb, lab, threshold, chunk)
    log(f"maths: {maths_s:.2f} s, {assigned} tags")
    library = _library_retag(emb, lab, threshold, log)
    return {"results": {
        "photos": photos, "labels": labels, "dim": dim, "threshold": threshold,
        "maths_seconds": round(maths_s, 3), "maths_tags": assigned, "library_retag": library,
    }}  # fmt: skip


def retag_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    r = payload["results"]
    rows = [
        ["in-memory maths (calibrate + matrix product + threshold)", r["maths_seconds"], r["maths_tags"]],
        ["Tagger.retag on SQLite (read blobs twice, write tags)", r["library_retag"]["seconds"],
         r["library_retag"]["tags_written"]],
    ]  # fmt: skip
    intro = (
        f"Re-tagging {r['photos']:,} photos x {r['labels']:,} labels (dim {r['dim']}, synthetic "
        f"unit vectors, threshold z >= {r['threshold']}): no image is decoded or encoded."
    )
    return results_markdown(
        "edge-bench retag", payload, intro, ["path", "seconds", "tags"], rows, charts
    )
