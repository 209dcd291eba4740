"""`edge-bench rescan`: a real library of hard-linked JPEGs, rescanned without decoding."""

from __future__ import annotations

import json
from pathlib import Path

from edge_bench.cli import main


def test_rescan_benchmark_report(tmp_path: Path) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    for _ in range(2):  # built on the first run only
        assert main(["rescan", "--photos", "300", "--work", str(work), "--out", str(out)]) == 0
    payload = json.loads((out / "rescan.json").read_text())
    row = payload["rescan"]
    assert (row["photos"], row["unchanged"]) == (300, 300)
    assert row["peak_growth_mb"] >= 0 and row["seconds"] >= 0
    assert payload["machine"]["cpu_flags"] is not None
    assert "| 300 |" in (out / "rescan.md").read_text()
