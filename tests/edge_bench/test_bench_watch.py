"""`edge-bench watch` on the tiny bundle: rescans decode nothing, latency is measured."""

from __future__ import annotations

import json
from pathlib import Path

from edge_bench.cli import main


def test_watch_benchmark_report(tiny_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["watch", "--bundle", str(tiny_bundle), "--prefer", "onnxruntime",
            "--photos", "60", "--repeats", "2", "--samples", "1", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    payload = json.loads((out / "watch.json").read_text())
    rows = {r["name"]: r for r in payload["rescans"]}
    assert rows["first index"]["encoded"] == 60
    for name in ("no-change rescan", "mtime-only rescan"):
        assert (rows[name]["encoded"], rows[name]["unchanged"]) == (0, 60)
    assert len(payload["latency_s"]) == 1 and payload["latency_s"][0] > 0
    assert payload["machine"]["cpu_flags"] is not None
    assert "shared, loaded machine" in (out / "watch.md").read_text()
