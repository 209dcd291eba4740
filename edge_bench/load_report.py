"""The `edge-bench load` report: goals verdict, one row per step, two charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_bench.report import chart_lines, header, table

GOAL_CLIENTS = 16


def _row(
    rows: list[dict[str, Any]], batching: str, importing: bool, clients: int
) -> dict[str, Any] | None:
    for r in rows:
        if (r["batching"], r["import"], r["clients"]) == (batching, importing, clients):
            return r
    return None


def _kind(row: dict[str, Any] | None, kind: str, key: str) -> float:
    if row is None:
        return float("nan")
    return float(row["kinds"].get(kind, {}).get(key, float("nan")))


def goals(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The issue's four goals, measured in this run (batching on unless said)."""
    at16 = [r for r in rows if r["clients"] == GOAL_CLIENTS]
    bad = sum(r["errors"] + r["wrong"] for r in at16)
    one, many = _row(rows, "on", False, 1), _row(rows, "on", False, GOAL_CLIENTS)
    ratio = _kind(many, "text", "qps") / _kind(one, "text", "qps")
    p99 = _kind(many, "text", "p99_ms")
    busy = _row(rows, "on", True, GOAL_CLIENTS)
    p95_ratio = _kind(busy, "text", "p95_ms") / _kind(many, "text", "p95_ms")
    return [
        ["errors + wrong answers at 16 clients (all 4 series)", "0", str(bad), _ok(bad == 0)],
        ["text QPS 16 clients / 1 client, batching on", ">= 3x", f"{ratio:.2f}x", _ok(ratio >= 3)],
        ["text p99 at 16 clients, 100k photos, batching on", "<= 300 ms", f"{p99:.0f} ms", _ok(p99 <= 300)],
        ["text p95 during import / idle (16 clients, on)", "<= 2x", f"{p95_ratio:.2f}x", _ok(p95_ratio <= 2)],
    ]  # fmt: skip


def _ok(met: bool) -> str:
    return "met" if met else "**missed**"


def steps_table(rows: list[dict[str, Any]]) -> str:
    head = [
        "batching", "import (active)", "clients", "all QPS", "text QPS", "text p50/p95/p99 ms",
        "browse p95", "photo+thumb p95", "image p95", "errors", "503", "wrong", "RSS max MB",
    ]  # fmt: skip
    body = []
    for r in rows:
        k = r["kinds"]
        body.append([
            r["batching"], f"{'yes' if r['import'] else 'no'} ({r['import_active']:.0%})",
            r["clients"], round(sum(v["qps"] for v in k.values()), 1), _kind(r, "text", "qps"),
            " / ".join(f"{_kind(r, 'text', p):.0f}" for p in ("p50_ms", "p95_ms", "p99_ms")),
            _kind(r, "browse", "p95_ms"),
            max(_kind(r, "photo", "p95_ms"), _kind(r, "thumb", "p95_ms")),
            _kind(r, "image", "p95_ms"), r["errors"], r["busy_503"], r["wrong"], r["rss_max_mb"],
        ])  # fmt: skip
    return table(head, body)


def load_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    rows = payload["rows"]
    intro = (
        f"`edge-app serve` over {payload['library']['photos']} synthetic photos, driven by "
        "Locust (headless, loopback) with the mix of `edge_bench/load_mix.py` (text search "
        "60 %, timeline 25 %, photo metadata + thumbnails 10 %, image search 5 %); every "
        "answer is compared with a single client's. Batching off = `max_batch` 1."
    )
    parts = [header("Load: many clients at once", payload["command"], payload["machine"], intro)]
    parts += [
        "## Goals (one run)",
        "",
        table(["goal", "target", "measured", "verdict"], goals(rows)),
        "",
    ]
    parts += ["## Steps", "", steps_table(rows), ""]
    return "\n".join([*parts, *chart_lines(charts)])


def load_chart(payload: dict[str, Any], path: Path) -> Path:
    """Text QPS and text p95 against clients, for each batching x import series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = payload["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for batching in ("off", "on"):
        for importing in (False, True):
            series = sorted(
                (r for r in rows if r["batching"] == batching and r["import"] == importing),
                key=lambda r: r["clients"],
            )
            if not series:
                continue
            label = f"batching {batching}{', import running' if importing else ''}"
            xs = [r["clients"] for r in series]
            axes[0].plot(xs, [_kind(r, "text", "qps") for r in series], marker="o", label=label)
            axes[1].plot(xs, [_kind(r, "text", "p95_ms") for r in series], marker="o", label=label)
    for ax, ylabel in ((axes[0], "text searches / s"), (axes[1], "text search p95 (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
