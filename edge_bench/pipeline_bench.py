"""`edge-bench index` and `edge-bench query`: the appliance's own code paths, timed.

`index` answers "is the encoder the bottleneck?": the same bundle and backend
measured encoder-only, decode-only (12 MP JPEG -> model pixels + thumbnail) and
end-to-end through `edge_app`'s Indexer (scan, hash, decode pool, encode, SQLite,
FAISS). `query` answers "how long does the search box take?" at library sizes no
test photo folder reaches, with synthetic vectors in the appliance's `VectorIndex`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edge_bench.report import results_markdown
from edge_bench.search_bench import clustered_vectors
from edge_bench.stats import summarize

Log = Callable[[str], None]
QUERIES = ("a dog on the beach", "two people hiking in the mountains", "a red car", "birthday cake")


def _settings(data_dir: Path, bundle: Path, prefer: str | None, batch: int) -> Any:
    from edge_app.settings import Settings

    return Settings(data_dir=data_dir, bundle_dir=bundle, backend_prefer=prefer, batch_size=batch)


def _write_photos(folder: Path, n: int, megapixels: float) -> list[Path]:
    """Large camera-like JPEGs (4:3), so decode cost is realistic, not thumbnail-sized."""
    from build_engines.shapes import write_folder

    w = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    h = int(round(w * 3 / 4))
    return [p for p, _ in write_folder(folder, n=n, seed=11, size=(w, h), fmt="jpg")]


def _stage(name: str, photos: int, seconds: float, note: str) -> dict[str, Any]:
    rate = photos / seconds if seconds > 0 else 0.0
    return {
        "name": name,
        "photos": photos,
        "seconds": round(seconds, 3),
        "photos_per_s": round(rate, 3),
        "note": note,
    }


def _decode_only(paths: list[Path], size: int) -> float:
    from edge_app.indexing.imaging import decode_image

    t0 = time.perf_counter()
    for p in paths:
        decode_image(p, size)
    return time.perf_counter() - t0


def _encoder_only(encoder: Any, paths: list[Path], batch: int) -> float:
    """Preprocessed pixels straight into the encoder: the ceiling the pipeline chases."""
    with Image.open(paths[0]) as im:
        one = encoder.preprocess(im.convert("RGB"))
    pixels = np.ascontiguousarray(np.repeat(one[None], batch, axis=0))
    encoder.encode_pixels(pixels)  # warm-up
    t0 = time.perf_counter()
    for start in range(0, len(paths), batch):
        encoder.encode_pixels(pixels[: min(batch, len(paths) - start)])
    return time.perf_counter() - t0


def run_index(
    bundle: Path,
    prefer: str | None,
    photos: int,
    megapixels: float,
    batch: int,
    out: Path,
    log: Log,
) -> dict[str, Any]:
    from edge_app.context import AppContext

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edge-bench-index-") as tmp:
        settings = _settings(Path(tmp), bundle, prefer, batch)
        settings.ensure_dirs()
        log(f"index: writing {photos} JPEGs of {megapixels} MP")
        paths = _write_photos(settings.library_dir / "bench", photos, megapixels)
        with AppContext.open(settings) as ctx:
            describe = ctx.encoder.describe()
            log("index: encoder only")
            enc_s = _encoder_only(ctx.encoder, paths, batch)
            log("index: decode only")
            dec_s = _decode_only(paths, ctx.encoder.image_size)
            log("index: end to end")
            rep = ctx.index_library()
        stages = [
            _stage("encoder only", photos, enc_s, f"preprocessed pixels, batch {batch}"),
            _stage(
                "decode only (1 thread)",
                photos,
                dec_s,
                "decode_image: draft-mode JPEG decode, resize, thumbnail",
            ),
            _stage(
                "end to end",
                rep.encoded,
                rep.seconds,
                f"Indexer.run, {settings.decode_workers} decode workers",
            ),
        ]
    return {
        "encoder": describe,
        "megapixels": megapixels,
        "stages": stages,
        "pipeline_vs_encoder": round(stages[2]["photos_per_s"] / stages[0]["photos_per_s"], 3)
        if stages[0]["photos_per_s"]
        else None,
        "index_report": {k: v for k, v in rep.to_dict().items() if k not in ("errors", "skipped")},
        "errors": rep.to_dict()["errors"],
    }


def _time_queries(encoder: Any, index: Any, n: int) -> dict[str, Any]:
    enc, srch, total = [], [], []
    for i in range(n + 2):
        t0 = time.perf_counter()
        vec = encoder.encode_text([QUERIES[i % len(QUERIES)]])
        t1 = time.perf_counter()
        index.search(vec, 50)
        t2 = time.perf_counter()
        if i >= 2:  # two warm-up queries
            enc.append((t1 - t0) * 1000)
            srch.append((t2 - t1) * 1000)
            total.append((t2 - t0) * 1000)
    return {
        "encode": summarize(enc).to_dict(with_samples=False),
        "search": summarize(srch).to_dict(with_samples=False),
        "total": summarize(total).to_dict(with_samples=False),
    }


def run_query(
    bundle: Path, prefer: str | None, sizes: tuple[int, ...], queries: int, log: Log
) -> dict[str, Any]:
    import engines
    from edge_app.search.vector_index import VectorIndex
    from edge_app.settings import Settings

    threshold = Settings().ann_threshold
    encoder = engines.open(bundle, prefer=prefer)
    results = []
    try:
        for n in sizes:
            log(f"query: building VectorIndex of {n} vectors")
            vecs = clustered_vectors(n, encoder.dim, seed=3)
            t0 = time.perf_counter()
            index = VectorIndex.build(np.arange(1, n + 1, dtype=np.int64), vecs, threshold)
            build_s = time.perf_counter() - t0
            row = {
                "vectors": n,
                "index_kind": index.kind,
                "nprobe": index.nprobe,
                "build_s": round(build_s, 3),
            }
            row.update(_time_queries(encoder, index, queries))
            results.append(row)
        describe = encoder.describe()
    finally:
        encoder.close()
    return {"encoder": describe, "ann_threshold": threshold, "k": 50, "results": results}


def index_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    rows = [
        [s["name"], s["photos"], s["seconds"], s["photos_per_s"], s["note"]]
        for s in payload["stages"]
    ]
    enc = ", ".join(f"{k}={v}" for k, v in payload["encoder"].items())
    intro = f"Generated {payload['megapixels']} MP JPEGs, same bundle and backend for every stage. Encoder: {enc}."
    head = ["stage", "photos", "seconds", "photos/s", "what"]
    ratio = f"End-to-end / encoder-only: {payload['pipeline_vs_encoder']}"
    return results_markdown(
        "Indexing throughput", payload, intro, head, rows, charts, "Stages", [ratio]
    )


def query_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    rows = [
        [
            r["vectors"],
            r["index_kind"],
            r["nprobe"],
            r["encode"]["p50_ms"],
            r["search"]["p50_ms"],
            r["total"]["p50_ms"],
            r["total"]["p95_ms"],
        ]
        for r in payload["results"]
    ]
    enc = ", ".join(f"{k}={v}" for k, v in payload["encoder"].items())
    intro = (
        f"Warm text query: encode (text tower) + `VectorIndex.search` (k={payload['k']}) over synthetic "
        f"clustered unit vectors; the index switches to IVF past {payload['ann_threshold']} vectors. "
        f"SQLite photo lookups are not included. Encoder: {enc}."
    )
    head = [
        "vectors",
        "index",
        "nprobe",
        "encode p50 ms",
        "search p50 ms",
        "total p50 ms",
        "total p95 ms",
    ]
    return results_markdown("Query latency", payload, intro, head, rows, charts)
