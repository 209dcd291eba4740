"""`edge-bench`: engine, search, quality and pipeline benchmarks with JSON/Markdown/PNG reports.

Only this module prints or exits; the benchmark modules return payloads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge_bench import report


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _ints(text: str) -> tuple[int, ...]:
    """'1,8,32' or '100k,1M' -> ints (k = 1e3, M = 1e6)."""
    out = []
    for part in text.split(","):
        p = part.strip().lower()
        mult = 1_000_000 if p.endswith("m") else 1_000 if p.endswith("k") else 1
        out.append(int(float(p.rstrip("km")) * mult))
    return tuple(out)


def _names(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _add_engines(sub: Any) -> None:
    p = sub.add_parser("engines", help="backend/precision latency, throughput, memory, parity")
    p.add_argument("--bundle", type=Path, help="engine bundle dir (built from --model if missing)")
    p.add_argument("--model", help="builder model spec, e.g. vit-b-32-random, tiny")
    p.add_argument(
        "--backends", type=_names, default=("torch", "onnxruntime", "openvino", "tensorrt")
    )
    p.add_argument("--batch", type=_ints, default=(1, 8, 32))
    p.add_argument("--precision", type=_names, default=("fp32", "fp16", "bf16", "int8"))
    p.add_argument("--device", default="cpu", help="cpu, or cuda for the PyTorch GPU reference")
    p.add_argument("--samples", type=int, default=32, help="images/captions in the input pool")
    p.add_argument("--images", type=Path, help="real photos for inputs (default: generated shapes)")
    p.add_argument("--captions", type=Path, help="caption file for --images (COCO JSON / CSV)")
    p.add_argument(
        "--calib", type=Path, help="int8 calibration photos when building (default --images)"
    )
    p.add_argument("--inputs", type=Path, help="folder with prepared pixels.npy/tokens.npy")
    p.add_argument("--min-seconds", type=float, default=2.0, help="timing budget per batch size")
    p.add_argument("--max-iters", type=int, default=200)
    p.add_argument(
        "--no-async", action="store_true", help="skip OpenVINO THROUGHPUT/AsyncInferQueue"
    )
    p.add_argument("--threads", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_search(sub: Any) -> None:
    p = sub.add_parser("search", help="FAISS exact vs IVF/HNSW/compressed on synthetic vectors")
    p.add_argument("--sizes", type=_ints, default=(100_000, 1_000_000))
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--latency-queries", type=int, default=200)
    p.add_argument("--indexes", type=_names, default=("flat", "ivf", "hnsw", "ivfpq", "hnsw-sq8"))
    p.add_argument("--nprobe", type=int, default=16)
    p.add_argument("--ef-search", type=int, default=64)
    p.add_argument("--max-train", type=int, default=100_000)
    p.add_argument("--threads", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_quality(sub: Any) -> None:
    p = sub.add_parser("quality", help="text<->image Recall@1/5/10 on an image-caption set")
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--captions", type=Path, required=True, help="COCO JSON or image,caption CSV")
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--prefer", help="backend or backend:precision (engines.open)")
    p.add_argument("--limit", type=int, help="first N images only")
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_pipeline(sub: Any) -> None:
    p = sub.add_parser("index", help="end-to-end indexing vs encoder-only on generated large JPEGs")
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--prefer", help="backend or backend:precision")
    p.add_argument("--photos", type=int, default=48, help="how many JPEGs to generate")
    p.add_argument("--megapixels", type=float, default=12.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--out", type=Path, default=Path("bench-out"))
    q = sub.add_parser("query", help="warm query latency (encode + search) at library sizes")
    q.add_argument("--bundle", type=Path, required=True)
    q.add_argument("--prefer", help="backend or backend:precision")
    q.add_argument("--sizes", type=_ints, default=(10_000, 100_000))
    q.add_argument("--queries", type=int, default=50)
    q.add_argument("--out", type=Path, default=Path("bench-out"))
    w = sub.add_parser("watch", help="no-change rescan of a photo root, watch-to-searchable")
    w.add_argument("--bundle", type=Path, required=True)
    w.add_argument("--prefer", help="backend or backend:precision")
    w.add_argument("--photos", type=int, default=10_000, help="files in the root")
    w.add_argument("--repeats", type=int, default=3, help="no-change rescans to time")
    w.add_argument("--samples", type=int, default=5, help="new photos for the latency")
    w.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_ocr(sub: Any) -> None:
    p = sub.add_parser("ocr", help="OCR quality (recall, precision, CER, find-by-word) and speed")
    p.add_argument("--images", type=Path, required=True, help="folder of photos")
    p.add_argument("--truth", type=Path, required=True, help="ground_truth.jsonl (see ocr_bench)")
    p.add_argument(
        "--bundle", type=Path, required=True, action="append",
        help="bundle with OCR models (repeat to compare bundles in one run)",
    )  # fmt: skip
    p.add_argument("--prefer", type=_names, default=("onnxruntime", "openvino:fp32"))
    p.add_argument("--limit", type=int, help="first N photos only")
    p.add_argument("--max-side", type=int, default=2048, help="decode size (as ocr_max_side)")
    p.add_argument(
        "--det-side", type=_ints, default=(),
        help="detector input bounds to compare, e.g. 960,1280 (default: each bundle's choice)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_faces(sub: Any) -> None:
    p = sub.add_parser("faces", help="People: LFW verification, detection, clustering, cost")
    p.add_argument("--data", type=Path, default=Path("../shared/photos/faces"))
    p.add_argument("--models", type=Path, required=True, help="face model folder (faces.json)")
    p.add_argument("--plain", type=Path, default=Path("../shared/photos/flickr8k_500"),
                   help="ordinary photos for the cost per photo without faces")  # fmt: skip
    p.add_argument("--plain-limit", type=int, default=40)
    p.add_argument("--detector", default="hog")
    p.add_argument("--det-side", type=int, default=1024)
    p.add_argument("--sides", type=_ints, default=(640, 800, 1024, 1280))
    p.add_argument("--threshold", type=float, default=0.5, help="the product default, for the report")
    p.add_argument("--lfw-limit", type=int, help="first N pairs only (a quick run)")
    p.add_argument("--mmod-sides", type=_ints, default=(640,),
                   help="detection sizes for the MMOD (CNN) detector rows; 0 for none")  # fmt: skip
    p.add_argument("--no-lfw-mmod", dest="lfw_mmod", action="store_false",
                   help="LFW: no MMOD second look where HOG finds no centred face")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_tags(sub: Any) -> None:
    p = sub.add_parser("tags", help="zero-shot multi-label tags: per-label P/R/F1 and mAP")
    p.add_argument("--images", type=Path, required=True)
    p.add_argument(
        "--labels", type=Path, required=True, help="COCO instances JSON or image,labels CSV"
    )
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--prompts", type=Path, help='JSON {"label": ["prompt", ...]}')
    p.add_argument("--pooling", choices=("mean", "any"), default="mean")
    p.add_argument("--threshold", type=float, default=3.0, help="calibrated score to assign a tag")
    p.add_argument("--prefer", help="backend or backend:precision")
    p.add_argument("--limit", type=int, help="first N images only")
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_retag(sub: Any) -> None:
    p = sub.add_parser("retag", help="re-tagging cost at library scale (synthetic vectors)")
    p.add_argument("--photos", type=int, default=100_000)
    p.add_argument("--labels", type=int, default=1_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--threshold", type=float, default=3.0)
    p.add_argument("--chunk", type=int, default=4096)
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_daemon(sub: Any) -> None:
    p = sub.add_parser("daemon", help="RSS and HTTP query latency of `edge-app serve` at sizes")
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--sizes", type=_ints, default=(100_000, 1_000_000))
    p.add_argument(
        "--prefer",
        type=_names,
        default=("openvino:fp32", "default"),
        help="EDGE_BACKEND values to compare; 'default' = engines.open's own choice",
    )
    p.add_argument("--queries", type=int, default=30, help="warm queries of each kind")
    p.add_argument("--idle-s", type=float, default=10.0, help="image_model_idle_s while served")
    p.add_argument("--work", type=Path, help="folder for the temporary libraries (default /tmp)")
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_load(sub: Any) -> None:
    p = sub.add_parser("load", help="many clients (Locust) against `edge-app serve`: QPS, tails")
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--photos", type=int, default=100_000, help="synthetic library size")
    p.add_argument("--clients", type=_ints, default=(1, 2, 4, 8, 16, 32))
    p.add_argument("--step-s", type=float, default=15.0, help="seconds of load per step")
    p.add_argument("--max-requests", type=int, default=5000, help="cap per step")
    p.add_argument("--import-photos", type=int, default=2000, help="JPEGs the import adds")
    p.add_argument("--batching", type=_names, default=("off", "on"))
    p.add_argument("--work", type=Path, help="folder for the temporary library (default /tmp)")
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_soak(sub: Any) -> None:
    p = sub.add_parser("soak", help="load + import, daemon SIGKILLed and restarted, invariants")
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--photos", type=Path, required=True, help="folder of JPEGs for the base")
    p.add_argument("--data-dir", type=Path, required=True, help="a new, empty data dir")
    p.add_argument("--duration-s", type=float, default=600.0)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--import-photos", type=int, default=400)
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_recall(sub: Any) -> None:
    p = sub.add_parser("recall", help="the appliance's 1M-vector index vs exact, two distributions")
    p.add_argument("--sizes", type=_ints, default=(1_000_000,))
    p.add_argument("--bundle", type=Path, help="bundle to embed --photos (photo-like vectors)")
    p.add_argument("--photos", type=Path, help="real photos whose embeddings anchor the cloud")
    p.add_argument("--captions", type=Path, help="captions file: text queries (last CSV field)")
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_rescan(sub: Any) -> None:
    p = sub.add_parser("rescan", help="memory of one full rescan of an unchanged library")
    p.add_argument("--photos", type=_ints, default=(100_000,))
    p.add_argument("--work", type=Path, required=True, help="library folder (built once)")
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def _add_pack(sub: Any) -> None:
    p = sub.add_parser("pack", help="edge-build pack on local Ray vs the box's encoder; import")
    p.add_argument("--bundle", type=Path, required=True)
    p.add_argument("--photos", type=int, default=96, help="generated photos to pack")
    p.add_argument("--side", type=int, default=480, help="photo height (width = 4/3 of it)")
    p.add_argument("--workers", type=_ints, default=(1, 2))
    p.add_argument("--import-sizes", type=_ints, default=(20_000, 100_000))
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--out", type=Path, default=Path("bench-out"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-bench", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    _add_engines(sub)
    _add_search(sub)
    _add_quality(sub)
    _add_pipeline(sub)
    _add_ocr(sub)
    _add_faces(sub)
    _add_tags(sub)
    _add_retag(sub)
    _add_daemon(sub)
    _add_load(sub)
    _add_soak(sub)
    _add_recall(sub)
    _add_rescan(sub)
    _add_pack(sub)
    w = sub.add_parser("_worker", help=argparse.SUPPRESS)
    w.add_argument("spec", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from edge_bench import commands

    handlers: dict[str, Callable[[argparse.Namespace, str], list[Path]]] = {
        "engines": commands.engines,
        "search": commands.search,
        "quality": commands.quality,
        "index": commands.index,
        "query": commands.query,
        "watch": commands.watch,
        "ocr": commands.ocr,
        "faces": commands.faces,
        "tags": commands.tags,
        "retag": commands.retag,
        "daemon": commands.daemon,
        "load": commands.load,
        "soak": commands.soak,
        "recall": commands.recall,
        "rescan": commands.rescan,
        "pack": commands.pack,
    }
    if args.cmd == "_worker":
        from edge_bench.worker import run_spec_file

        run_spec_file(args.spec)
        return 0
    try:
        written = handlers[args.cmd](args, report.command_line(argv))
    except (FileNotFoundError, ValueError, LookupError) as exc:
        _log(f"edge-bench {args.cmd}: {exc}")
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
