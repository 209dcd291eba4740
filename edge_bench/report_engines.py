"""Markdown for `edge-bench engines` (and the GPU variant of the same payload)."""

from __future__ import annotations

from typing import Any

from edge_bench.report import chart_lines, header, table


def _ok(payload: dict[str, Any], mode: str | None = None) -> list[dict[str, Any]]:
    return [
        r for r in payload["rows"] if r["status"] == "ok" and (mode is None or r["mode"] == mode)
    ]


def _ratio(r: dict[str, Any], tower: str, b: str) -> str:
    s = r.get("speedup_vs_torch_fp32", {}).get(tower, {}).get(b)
    return f" ({s:.2f}x)" if s is not None else ""


def throughput_table(payload: dict[str, Any], tower: str) -> str:
    bs = [str(b) for b in payload["batches"]]
    rows = [
        [r["key"], *[f"{r[tower][b]['throughput']:.1f}{_ratio(r, tower, b)}" for b in bs]]
        for r in _ok(payload)
    ]
    return table(["backend/precision", *[f"batch {b}" for b in bs]], rows)


def latency_table(payload: dict[str, Any], tower: str) -> str:
    out = []
    for r in _ok(payload, "sync"):
        for b, v in r[tower].items():
            lat = v["latency"]
            out.append([r["key"], b, lat["p50_ms"], lat["p95_ms"], lat["p99_ms"], lat["n"]])
    return table(["backend/precision", "batch", "p50 ms", "p95 ms", "p99 ms", "calls"], out)


def load_table(payload: dict[str, Any]) -> str:
    rows = [
        [
            r["key"],
            r["load_s"],
            r["first_inference_s"],
            r["load_rss_delta_mb"],
            r["peak_rss_delta_mb"],
        ]
        for r in _ok(payload, "sync")
    ]
    return table(
        [
            "backend/precision",
            "first load s",
            "first inference s",
            "RSS after load MB",
            "peak RSS MB",
        ],
        rows,
    )


def parity_table(payload: dict[str, Any]) -> str:
    rows = []
    for r in _ok(payload, "sync"):
        p = r.get("parity")
        if not p:
            rows.append([r["key"], "n/a", "n/a", "n/a", "n/a"])
            continue
        cos = [p[t][f"{s}_cosine"] for t in ("image", "text") for s in ("min", "mean")]
        rows.append([r["key"], *[f"{c:.5f}" for c in cos]])  # 3 decimals would hide fp16/int8 drift
    return table(
        ["backend/precision", "image min cos", "image mean cos", "text min cos", "text mean cos"],
        rows,
    )


def async_table(payload: dict[str, Any]) -> str:
    rows = []
    for r in _ok(payload, "async"):
        for tower in ("image", "text"):
            for b, v in r[tower].items():
                rows.append(
                    [
                        r["key"],
                        tower,
                        b,
                        v["infer_requests"],
                        f"{v['throughput']:.1f}{_ratio(r, tower, b)}",
                        v["request_latency"]["p50_ms"],
                    ]
                )
    return table(
        [
            "backend/precision",
            "tower",
            "batch",
            "requests in flight",
            "items/s (vs torch)",
            "request p50 ms",
        ],
        rows,
    )


def unavailable_table(payload: dict[str, Any]) -> str:
    rows = [
        [r["key"], r["status"], r.get("reason", "")] for r in payload["rows"] if r["status"] != "ok"
    ]
    return (
        table(["backend/precision", "status", "why"], rows)
        if rows
        else "None: every requested row ran."
    )


def best_summary(payload: dict[str, Any]) -> str:
    """The headline: best image throughput vs PyTorch fp32 at the largest batch, with parity."""
    b = str(max(payload["batches"]))
    cands = [r for r in _ok(payload) if r["key"] != "torch/fp32" and b in r["image"]]
    if not cands:
        return "Only the PyTorch fp32 reference ran."
    best = max(cands, key=lambda r: r["image"][b]["throughput"])
    ratio = best.get("speedup_vs_torch_fp32", {}).get("image", {}).get(b)
    parity = _row_parity(payload, best)
    ratio_s = f"{ratio:.2f}x PyTorch fp32" if ratio is not None else "no PyTorch reference"
    return (
        f"Best image throughput at batch {b}: **{best['key']}** — "
        f"{best['image'][b]['throughput']:.1f} images/s, {ratio_s}; image parity (min cosine) {parity}."
    )


def _row_parity(payload: dict[str, Any], row: dict[str, Any]) -> str:
    """Async rows share the sync row's weights and graph: take its parity."""
    key = f"{row['backend']}/{row['precision']}"
    sync = next((r for r in _ok(payload, "sync") if r["key"] == key), row)
    p = sync.get("parity")
    return f"{p['image']['min_cosine']:.4f}" if p else "n/a"


def engines_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    inputs = payload["inputs"]
    bundle = payload.get("bundle") or {}
    intro = (
        f"Model `{payload['model']}` (bundle `{bundle.get('bundle_id', 'none')}`), device `{payload['device']}`. "
        f"Inputs: {inputs['images']} images and {inputs['captions']} captions from {inputs['source']}. "
        "Throughput is items per second at the median call time; in brackets the ratio to PyTorch fp32 "
        "at the same batch in the same run. Parity is cosine similarity vs PyTorch fp32 on the same inputs."
    )
    parts = [
        header("Engine benchmark", payload["command"], payload["machine"], intro),
        "## Summary",
        "",
        best_summary(payload),
        "",
        f"OpenVINO CPU native BF16: {payload.get('openvino_cpu_bf16_native')}.",
        "",
        "## Image tower throughput (images/s)",
        "",
        throughput_table(payload, "image"),
        "",
        "## Text tower throughput (text queries/s)",
        "",
        throughput_table(payload, "text"),
        "",
        "## OpenVINO THROUGHPUT hint, several requests in flight (AsyncInferQueue)",
        "",
        async_table(payload) if _ok(payload, "async") else "Not measured.",
        "",
        "## Latency, image tower (synchronous calls)",
        "",
        latency_table(payload, "image"),
        "",
        "## Latency, text tower (synchronous calls)",
        "",
        latency_table(payload, "text"),
        "",
        "## First load and memory (fresh process per row)",
        "",
        load_table(payload),
        "",
        "## Parity vs PyTorch fp32",
        "",
        parity_table(payload),
        "",
        "## Not measured here",
        "",
        unavailable_table(payload),
        "",
        "## Notes",
        "",
        *[f"- {r['key']}: {r['note']}" for r in payload["rows"] if r.get("note")],
        "",
        *chart_lines(charts),
    ]
    return "\n".join(parts)
