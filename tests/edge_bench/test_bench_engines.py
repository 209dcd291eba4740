"""`edge-bench engines` on the tiny bundle: every row present, measured or explained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_bench.cli import main
from edge_bench.engines_bench import cosine_parity
from edge_bench.plan import plan_rows

OK_FIELDS = {
    "load_s",
    "first_inference_s",
    "load_rss_delta_mb",
    "peak_rss_delta_mb",
    "image",
    "text",
    "describe",
    "parity",
    "speedup_vs_torch_fp32",
}


@pytest.fixture(scope="module")
def engines_report(
    tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("engines")
    rc = main([
        "engines", "--bundle", str(tiny_bundle), "--batch", "1,2", "--precision", "fp32,bf16,int8",
        "--samples", "4", "--min-seconds", "0", "--max-iters", "3", "--out", str(out),
    ])  # fmt: skip
    assert rc == 0
    return out, json.loads((out / "engines.json").read_text())


def _row(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for r in payload["rows"] if r["key"] == key)


def test_measured_rows_have_every_field(engines_report: tuple[Path, dict[str, Any]]) -> None:
    _, payload = engines_report
    for key in ("torch/fp32", "onnxruntime/fp32", "openvino/fp32", "openvino/bf16"):
        row = _row(payload, key)
        assert row["status"] == "ok", row.get("reason")
        assert set(row) >= OK_FIELDS
        for tower in ("image", "text"):
            assert set(row[tower]) == {"1", "2"}
            lat = row[tower]["1"]["latency"]
            assert {"p50_ms", "p95_ms", "p99_ms", "samples_ms"} <= set(lat)
            assert row[tower]["2"]["throughput"] > 0


def test_fp32_backends_match_pytorch(engines_report: tuple[Path, dict[str, Any]]) -> None:
    _, payload = engines_report
    for key in ("onnxruntime/fp32", "openvino/fp32"):
        parity = _row(payload, key)["parity"]
        for tower in ("image", "text"):
            assert parity[tower]["samples"] == 4
            assert parity[tower]["min_cosine"] > 0.99


def test_async_openvino_row(engines_report: tuple[Path, dict[str, Any]]) -> None:
    _, payload = engines_report
    row = _row(payload, "openvino/fp32/async")
    assert row["status"] == "ok"
    assert row["image"]["2"]["infer_requests"] >= 1
    assert row["image"]["2"]["throughput"] > 0


def test_unrunnable_rows_say_why(engines_report: tuple[Path, dict[str, Any]]) -> None:
    _, payload = engines_report
    trt = _row(payload, "tensorrt/*")
    assert trt["status"] == "unavailable" and "Jetson" in trt["reason"]
    int8 = _row(payload, "openvino/int8")  # the tiny fixture bundle is fp32 only
    assert int8["status"] == "unavailable" and "int8" in int8["reason"]


def test_report_files(engines_report: tuple[Path, dict[str, Any]]) -> None:
    out, payload = engines_report
    assert {"cpu_model", "gpus", "libraries"} <= set(payload["machine"])
    assert len(payload["charts"]) == 3
    for name in payload["charts"]:
        assert (out / name).stat().st_size > 0
    md = (out / "engines.md").read_text()
    assert "Parity vs PyTorch fp32" in md and "tensorrt" in md


def test_cosine_parity_is_scale_invariant() -> None:
    import numpy as np

    a = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    p = cosine_parity(a, 3 * a)
    assert p["min_cosine"] == pytest.approx(1.0, abs=1e-6) and p["samples"] == 5


def test_plan_lists_unavailable_backends_with_reasons() -> None:
    avail: dict[str, str | None] = {
        "torch": None,
        "onnxruntime": None,
        "openvino": None,
        "tensorrt": "no",
    }
    rows = plan_rows(("onnxruntime", "tensorrt"), ("fp32", "int8"), None, "cpu", True, avail, False)
    keys = {r.key: r.reason for r in rows}
    assert keys["torch/fp32"] is None
    assert keys["tensorrt/*"] == "no"
    assert keys["onnxruntime/*"]  # no bundle: nothing to run, and it says so
