"""`edge-bench daemon` on the tiny bundle with a small library: every field, no timings."""

from __future__ import annotations

import json
from pathlib import Path

from edge_bench.cli import main

ROW_FIELDS = {
    "photos",
    "prefer",
    "start_s",
    "rss_after_start_mb",
    "first_query_ms",
    "first_image_query_ms",
    "rss_after_first_query_mb",
    "startup_scan_s",
    "startup_jobs_s",
    "text",
    "image",
    "rss_steady_mb",
    "rss_steady_by_kind_mb",
    "rss_idle_mb",
    "engine",
    "indexed",
    "library_build_s",
}


def test_daemon_bench_reports_every_field(tiny_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = [
        "daemon",
        "--bundle",
        str(tiny_bundle),
        "--sizes",
        "300",
        "--queries",
        "3",
        "--idle-s",
        "1",
        "--prefer",
        "onnxruntime,default",
        "--work",
        str(tmp_path),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    payload = json.loads((out / "daemon.json").read_text())
    assert payload["benchmark"] == "daemon" and payload["machine"]
    rows = payload["results"]
    assert [(r["photos"], r["prefer"]) for r in rows] == [(300, "onnxruntime"), (300, "default")]
    for row in rows:
        assert set(row) >= ROW_FIELDS, ROW_FIELDS - set(row)
        assert row["indexed"] == 300  # the start-up scan kept every synthetic photo
        assert row["text"]["n"] == 3 and row["image"]["n"] == 3
        assert row["rss_steady_mb"] > 0 and row["startup_scan_s"] >= 0
        assert row["startup_jobs_s"] >= 0  # measured once no job ran or waited
        kinds = row["rss_steady_by_kind_mb"]
        assert set(kinds) == {"weights", "libraries", "anonymous", "other"}
        assert kinds["libraries"] > 0 and kinds["anonymous"] > 0
        # the parts add up to the total (smaps and status are read a moment apart)
        assert abs(sum(kinds.values()) - row["rss_steady_mb"]) < 0.1 * row["rss_steady_mb"]
    assert "onnxruntime" in json.dumps(rows[0]["engine"])
    md = (out / "daemon.md").read_text()
    assert "Daemon memory and query latency" in md and "edge-bench daemon" in md
