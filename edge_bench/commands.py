"""Subcommand bodies: run a benchmark, then write JSON, charts and Markdown.

Kept apart from `cli` (argument parsing, printing) so tests and scripts can call
them with a Namespace and get back the files written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edge_bench import charts, report


def _log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


def _config(args: argparse.Namespace, *keys: str) -> dict[str, Any]:
    """The named arguments as the report's config block."""
    return _jsonable({k: getattr(args, k) for k in keys})


def _write_report(
    out: Path,
    name: str,
    payload: dict[str, Any],
    md_fn: Callable[[dict[str, Any], list[str]], str],
    pngs: list[Path],
) -> list[Path]:
    """Name the charts in the payload, then write `<name>.json` and `<name>.md`.

    Returns every file of the report: the JSON, the Markdown, then the charts.
    """
    payload["charts"] = [p.name for p in pngs]
    md = md_fn(payload, payload["charts"])
    return [
        report.write_json(out, name, payload),
        report.write_markdown(out, name, md),
        *pngs,
    ]


def engines(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.engines_bench import EnginesConfig, run_engines
    from edge_bench.report_engines import engines_markdown

    cfg = EnginesConfig(
        out=args.out,
        bundle=args.bundle,
        model=args.model,
        backends=args.backends,
        batches=args.batch,
        precisions=args.precision,
        device=args.device,
        samples=args.samples,
        images_dir=args.images,
        captions_file=args.captions,
        calib_dir=args.calib,
        inputs_dir=args.inputs,
        min_seconds=args.min_seconds,
        max_iters=args.max_iters,
        with_async=not args.no_async,
        threads=args.threads,
        seed=args.seed,
    )
    results = run_engines(cfg, _log)
    payload = report.envelope("engines", command, _jsonable(asdict(cfg)), results)
    pngs = [
        charts.engines_throughput(payload, args.out / "engines_throughput.png"),
        charts.engines_latency(payload, args.out / "engines_latency.png"),
        charts.engines_parity(payload, args.out / "engines_parity.png"),
    ]
    return _write_report(args.out, "engines", payload, engines_markdown, pngs)


def search(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.report_search import search_markdown
    from edge_bench.search_bench import SearchConfig, run_search

    cfg = SearchConfig(
        sizes=args.sizes,
        dim=args.dim,
        queries=args.queries,
        latency_queries=args.latency_queries,
        indexes=args.indexes,
        nprobe=args.nprobe,
        ef_search=args.ef_search,
        threads=args.threads,
        seed=args.seed,
        max_train=args.max_train,
    )
    results = run_search(cfg, _log)
    payload = report.envelope("search", command, asdict(cfg), results)
    args.out.mkdir(parents=True, exist_ok=True)
    pngs = charts.search_charts(payload, args.out)
    return _write_report(args.out, "search", payload, search_markdown, pngs)


def quality(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.quality import KS, quality_markdown, run_quality

    results = run_quality(args.images, args.captions, args.bundle, args.prefer, args.limit, _log)
    config = _config(args, "images", "captions", "bundle", "prefer", "limit")
    payload = report.envelope("quality", command, config, results)
    args.out.mkdir(parents=True, exist_ok=True)
    groups = {
        name: [float(results[key][f"R@{k}"]) for k in KS]
        for name, key in (
            ("text->image", "text_to_image"),
            ("image->text", "image_to_text"),
            ("chance", "chance_text_to_image"),
        )
    }
    png = charts.simple_bars(
        "retrieval recall",
        [f"R@{k}" for k in KS],
        groups,
        "recall",
        args.out / "quality_recall.png",
    )
    return _write_report(args.out, "quality", payload, quality_markdown, [png])


def index(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.pipeline_bench import index_markdown, run_index

    results = run_index(
        args.bundle, args.prefer, args.photos, args.megapixels, args.batch, args.out, _log
    )
    config = _config(args, "bundle", "prefer", "photos", "megapixels", "batch")
    payload = report.envelope("index", command, config, results)
    labels = [s["name"] for s in results["stages"]]
    png = charts.simple_bars(
        "indexing throughput",
        labels,
        {"photos/s": [float(s["photos_per_s"]) for s in results["stages"]]},
        "photos/s",
        args.out / "index_throughput.png",
    )
    return _write_report(args.out, "index", payload, index_markdown, [png])


def query(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.pipeline_bench import query_markdown, run_query

    results = run_query(args.bundle, args.prefer, args.sizes, args.queries, _log)
    config = _config(args, "bundle", "prefer", "sizes", "queries")
    payload = report.envelope("query", command, config, results)
    args.out.mkdir(parents=True, exist_ok=True)
    labels = [str(r["vectors"]) for r in results["results"]]
    groups = {s: [float(r["total"][f"{s}_ms"]) for r in results["results"]] for s in ("p50", "p95")}
    png = charts.simple_bars(
        "warm query latency (encode + search)", labels, groups, "ms", args.out / "query_latency.png"
    )
    return _write_report(args.out, "query", payload, query_markdown, [png])


def watch(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.watch_bench import run_watch, watch_markdown

    results = run_watch(args.bundle, args.prefer, args.photos, args.repeats, args.samples, _log)
    config = _config(args, "bundle", "prefer", "photos", "repeats", "samples")
    payload = report.envelope("watch", command, config, results)
    return _write_report(args.out, "watch", payload, watch_markdown, [])


def ocr(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.ocr_bench import ocr_markdown, run_ocr_bench

    results = run_ocr_bench(
        args.images,
        args.truth,
        args.bundle,
        args.prefer,
        args.limit,
        args.max_side,
        _log,
        args.det_side,
    )
    config = _config(args, "images", "truth", "bundle", "prefer", "limit", "max_side", "det_side")
    payload = report.envelope("ocr", command, config, results)
    return _write_report(args.out, "ocr", payload, ocr_markdown, [])


def faces(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.faces_report import faces_markdown, run_faces_bench

    keys = ("data", "models", "plain", "plain_limit", "detector", "det_side", "sides", "threshold",
            "lfw_limit", "mmod_sides", "lfw_mmod")  # fmt: skip
    payload = report.envelope("faces", command, _config(args, *keys), run_faces_bench(args, _log))
    return _write_report(args.out, "faces", payload, faces_markdown, [])


def tags(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.tags_bench import run_tags, tags_markdown

    keys = ("images", "labels", "bundle", "prompts", "pooling", "threshold", "prefer", "limit")
    config = _config(args, *keys)
    results = run_tags(args.images, args.labels, args.bundle, vars(args), _log)
    payload = report.envelope("tags", command, config, results)
    args.out.mkdir(parents=True, exist_ok=True)
    return _write_report(args.out, "tags", payload, tags_markdown, [])


def retag(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.retag_bench import retag_markdown, run_retag

    config = _config(args, "photos", "labels", "dim", "threshold", "chunk")
    results = run_retag(args.photos, args.labels, args.dim, args.threshold, args.chunk, _log)
    payload = report.envelope("retag", command, config, results)
    args.out.mkdir(parents=True, exist_ok=True)
    return _write_report(args.out, "retag", payload, retag_markdown, [])


def daemon(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.daemon_bench import DaemonConfig, daemon_markdown, run_daemon

    cfg = DaemonConfig(
        args.bundle, args.sizes, args.prefer, args.queries, args.work, idle_s=args.idle_s
    )
    results = run_daemon(cfg, _log)
    config = _config(args, "bundle", "sizes", "prefer", "queries", "idle_s")
    payload = report.envelope("daemon", command, config, results)
    args.out.mkdir(parents=True, exist_ok=True)
    return _write_report(args.out, "daemon", payload, daemon_markdown, [])


def load(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.load_bench import LoadConfig, run_load
    from edge_bench.load_report import load_chart, load_markdown

    keys = ("bundle", "photos", "clients", "step_s", "max_requests", "import_photos", "batching")
    cfg = LoadConfig(**{k: getattr(args, k) for k in keys}, work=args.work)
    payload = report.envelope("load", command, _config(args, *keys), run_load(cfg, _log))
    args.out.mkdir(parents=True, exist_ok=True)
    chart = load_chart(payload, args.out / "load.png")
    return _write_report(args.out, "load", payload, load_markdown, [chart])


def soak(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.soak import SoakConfig, run_soak, soak_markdown

    keys = ("bundle", "data_dir", "duration_s", "clients", "import_photos")
    cfg = SoakConfig(**{k: getattr(args, k) for k in keys})
    results = run_soak(cfg, args.photos, _log)
    payload = report.envelope("soak", command, _config(args, *keys), results)
    args.out.mkdir(parents=True, exist_ok=True)
    return _write_report(args.out, "soak", payload, soak_markdown, [])


def recall(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.recall_study import RecallConfig, recall_markdown, run_recall

    cfg = RecallConfig(args.sizes, args.bundle, args.photos, args.captions, args.queries)
    results = run_recall(cfg, _log)
    config = _config(args, "sizes", "bundle", "photos", "captions", "queries")
    payload = report.envelope("recall", command, config, results)
    args.out.mkdir(parents=True, exist_ok=True)
    return _write_report(args.out, "recall", payload, recall_markdown, [])


def rescan(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.rescan_bench import rescan_markdown, run_rescan

    payload = run_rescan(args.work, args.photos[0])
    payload.update(command=command, config=_config(args, "photos", "work"))
    return _write_report(args.out, "rescan", payload, rescan_markdown, [])


def pack(args: argparse.Namespace, command: str) -> list[Path]:
    from edge_bench.pack_bench import pack_markdown, run_pack_bench

    results = run_pack_bench(
        args.bundle, args.photos, args.side, args.workers, args.import_sizes, args.batch, _log
    )
    config = _config(args, "bundle", "photos", "side", "workers", "import_sizes", "batch")
    payload = report.envelope("pack", command, config, results)
    args.out.mkdir(parents=True, exist_ok=True)
    return _write_report(args.out, "pack", payload, pack_markdown, [])
