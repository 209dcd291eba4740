"""PNG charts (matplotlib, Agg: no display on an appliance or CI box).

Charts are derived only from the JSON payload, so a report can be re-rendered from a
committed JSON without re-measuring.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _ok(rows: list[dict[str, Any]], mode: str | None = None) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("status") == "ok" and (mode is None or r.get("mode") == mode)]


def _grouped_bars(ax: Any, labels: list[str], groups: dict[str, list[float]], ylabel: str) -> None:
    """One group per label, one bar per series (e.g. batch size)."""
    x = np.arange(len(labels))
    width = 0.8 / max(1, len(groups))
    for i, (name, values) in enumerate(groups.items()):
        ax.bar(x + i * width - 0.4 + width / 2, values, width, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)


def engines_throughput(payload: dict[str, Any], path: Path) -> Path:
    """Images/s and queries/s by backend row and batch size (sync and async rows)."""
    rows = _ok(payload["rows"])
    batches = [str(b) for b in payload["batches"]]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    for ax, tower, unit in ((axes[0], "image", "images/s"), (axes[1], "text", "text queries/s")):
        labels = [r["key"] for r in rows]
        groups = {
            f"batch {b}": [float(r[tower].get(b, {}).get("throughput", 0.0)) for r in rows]
            for b in batches
        }
        _grouped_bars(ax, labels, groups, unit)
        ax.set_title(f"{tower} tower throughput")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def engines_latency(payload: dict[str, Any], path: Path) -> Path:
    """Box plots of per-call latency at batch 1 and the largest batch (image tower)."""
    rows = _ok(payload["rows"], mode="sync")
    picks = sorted({str(min(payload["batches"])), str(max(payload["batches"]))}, key=int)
    fig, axes = plt.subplots(1, len(picks), figsize=(6.5 * len(picks), 4.8), squeeze=False)
    for ax, b in zip(axes[0], picks, strict=True):
        data = [r["image"][b]["latency"]["samples_ms"] or [0.0] for r in rows if b in r["image"]]
        labels = [r["key"] for r in rows if b in r["image"]]
        if data:
            ax.boxplot(data, showfliers=True)
            ax.set_xticks(range(1, len(labels) + 1))
            ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("ms per call")
        ax.set_title(f"image tower latency, batch {b}")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def engines_parity(payload: dict[str, Any], path: Path) -> Path:
    """Min and mean cosine vs PyTorch fp32 per row; the 0.99 bar drawn for reference."""
    rows = [r for r in _ok(payload["rows"], mode="sync") if r.get("parity")]
    labels = [r["key"] for r in rows]
    groups = {
        f"{t} {s}": [float(r["parity"][t][f"{s}_cosine"]) for r in rows]
        for t in ("image", "text")
        for s in ("min", "mean")
    }
    fig, ax = plt.subplots(figsize=(9, 4.8))
    _grouped_bars(ax, labels, groups, "cosine vs PyTorch fp32")
    lows = [v for vs in groups.values() for v in vs]
    ax.set_ylim(min([0.98, *lows]) - 0.005, 1.001)
    ax.axhline(0.99, color="red", linestyle="--", linewidth=1)
    ax.set_title("parity (1.0 = identical embeddings)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def search_charts(payload: dict[str, Any], out: Path) -> list[Path]:
    """Latency p50/p95 per index and size; recall vs latency trade-off."""
    results = payload["results"]
    sizes = sorted({r["n"] for r in results})
    kinds = list(dict.fromkeys(r["index"] for r in results))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    groups = {
        f"n={n} {stat[:3]}": [
            next(
                (float(r["latency"][stat]) for r in results if r["n"] == n and r["index"] == k), 0.0
            )
            for k in kinds
        ]
        for n in sizes
        for stat in ("p50_ms", "p95_ms")
    }
    _grouped_bars(axes[0], kinds, groups, "ms per single query (k=10)")
    axes[0].set_yscale("log")
    axes[0].set_title("single-query latency")
    for n in sizes:
        pts = [
            (r["latency"]["p50_ms"], r["recall_at_10"], r["index"]) for r in results if r["n"] == n
        ]
        axes[1].scatter([p[0] for p in pts], [p[1] for p in pts], label=f"n={n}")
        for lat, rec, name in pts:
            axes[1].annotate(name, (lat, rec), fontsize=7)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("p50 ms per query")
    axes[1].set_ylabel("recall@10 vs exact")
    axes[1].legend(fontsize=7)
    axes[1].grid(alpha=0.3)
    axes[1].set_title("recall vs latency")
    fig.tight_layout()
    path = out / "search_latency_recall.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path, _search_memory(payload, out, sizes, kinds)]


def _search_memory(payload: dict[str, Any], out: Path, sizes: list[int], kinds: list[str]) -> Path:
    results = payload["results"]
    groups = {
        f"n={n}": [
            next((float(r["memory_mb"]) for r in results if r["n"] == n and r["index"] == k), 0.0)
            for k in kinds
        ]
        for n in sizes
    }
    fig, ax = plt.subplots(figsize=(8, 4.5))
    _grouped_bars(ax, kinds, groups, "index memory (MiB)")
    ax.set_title("index memory")
    fig.tight_layout()
    path = out / "search_memory.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def simple_bars(
    title: str, labels: list[str], groups: dict[str, list[float]], ylabel: str, path: Path
) -> Path:
    """Generic grouped bar chart (quality recall, index/query figures)."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    _grouped_bars(ax, labels, groups, ylabel)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
