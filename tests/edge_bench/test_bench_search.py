"""`edge-bench search` end to end at toy size, plus its recall arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge_bench.cli import main
from edge_bench.search_bench import clustered_vectors, recall_at_k

RESULT_FIELDS = {
    "n",
    "index",
    "description",
    "params",
    "train_s",
    "add_s",
    "memory_mb",
    "bytes_per_vector",
    "latency",
    "batch_qps",
    "recall_at_10",
}


def test_clustered_vectors_are_unit_and_deterministic() -> None:
    a = clustered_vectors(300, 16, seed=1)
    b = clustered_vectors(300, 16, seed=1)
    assert a.dtype == np.float32 and a.shape == (300, 16)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a, b)


def test_recall_at_k_counts_overlap() -> None:
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    found = np.array([[3, 2, 9], [7, 8, 9]])
    assert recall_at_k(found, truth) == (2 / 3 + 0) / 2


def test_search_command_writes_every_field(tmp_path: Path) -> None:
    out = tmp_path / "search"
    rc = main([
        "search", "--sizes", "2000", "--dim", "32", "--queries", "20",
        "--latency-queries", "5", "--max-train", "2000", "--out", str(out),
    ])  # fmt: skip
    assert rc == 0
    payload = json.loads((out / "search.json").read_text())
    assert payload["benchmark"] == "search"
    assert {"cpu_model", "logical_cores", "memory_gb", "gpus", "libraries"} <= set(
        payload["machine"]
    )
    kinds = [r["index"] for r in payload["results"]]
    assert kinds == ["flat", "ivf", "hnsw", "ivfpq", "hnsw-sq8"]
    for r in payload["results"]:
        assert set(r) >= RESULT_FIELDS
        assert {"p50_ms", "p95_ms", "p99_ms"} <= set(r["latency"])
        assert 0.0 <= r["recall_at_10"] <= 1.0
    flat = payload["results"][0]
    assert flat["recall_at_10"] == 1.0  # exact search is its own ground truth
    for name in payload["charts"]:
        assert (out / name).stat().st_size > 0
    assert "recall@10" in (out / "search.md").read_text()
