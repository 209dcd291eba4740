"""`edge-bench index` and `edge-bench query` at toy sizes through edge_app."""

from __future__ import annotations

import json
from pathlib import Path

from edge_bench.cli import _ints, main


def test_size_suffixes() -> None:
    assert _ints("1,8,32") == (1, 8, 32)
    assert _ints("100k,1M,2.5k") == (100_000, 1_000_000, 2_500)


def test_index_command(tiny_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "index"
    rc = main(
        [
            "index",
            "--bundle",
            str(tiny_bundle),
            "--photos",
            "3",
            "--megapixels",
            "0.3",
            "--batch",
            "2",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    payload = json.loads((out / "index.json").read_text())
    names = [s["name"] for s in payload["stages"]]
    assert names == ["encoder only", "decode only (1 thread)", "end to end"]
    assert all(s["photos"] == 3 and s["photos_per_s"] > 0 for s in payload["stages"])
    assert payload["index_report"]["encoded"] == 3 and payload["errors"] == []
    assert payload["pipeline_vs_encoder"] is not None
    assert (out / "index_throughput.png").stat().st_size > 0


def test_query_command(tiny_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "query"
    rc = main(
        [
            "query",
            "--bundle",
            str(tiny_bundle),
            "--sizes",
            "200,400",
            "--queries",
            "3",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    payload = json.loads((out / "query.json").read_text())
    assert [r["vectors"] for r in payload["results"]] == [200, 400]
    for r in payload["results"]:
        for part in ("encode", "search", "total"):
            assert {"p50_ms", "p95_ms"} <= set(r[part])
    assert (out / "query_latency.png").stat().st_size > 0


def test_missing_bundle_is_a_clean_error(tmp_path: Path) -> None:
    rc = main(["engines", "--bundle", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert rc == 2
