"""Markdown for `edge-bench search`."""

from __future__ import annotations

from typing import Any

from edge_bench.report import results_markdown
from edge_bench.search_bench import summary_qps


def search_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    cfg = payload["config"]
    intro = (
        f"FAISS {payload['machine']['libraries'].get('faiss')} on synthetic clustered, L2-normalised "
        f"{cfg['dim']}-d vectors (inner product = cosine), k=10, {payload.get('faiss_threads')} threads. "
        "Latency is one query per call (the search box); batch q/s is all recall queries in one call. "
        "Recall@10 is against the exact (Flat) top-10. Memory is the serialised index size "
        "(vectors or codes, ids, graph/lists); the RSS growth is in the JSON (`extra`). Build = train + add; k-means training uses at most "
        f"{cfg['max_train']} sampled vectors."
    )
    rows = [
        [
            r["n"],
            r["index"],
            r["description"],
            ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "-",
            r["latency"]["p50_ms"],
            r["latency"]["p95_ms"],
            summary_qps(r["latency"]),
            r["batch_qps"],
            r["recall_at_10"],
            r["train_s"] + r["add_s"],
            r["memory_mb"],
            r["bytes_per_vector"],
        ]
        for r in payload["results"]
    ]
    head = [
        "vectors",
        "index",
        "factory",
        "search params",
        "p50 ms",
        "p95 ms",
        "1-stream q/s",
        "batch q/s",
        "recall@10",
        "build s",
        "memory MiB",
        "bytes/vector",
    ]
    return results_markdown("Vector search benchmark", payload, intro, head, rows, charts)
