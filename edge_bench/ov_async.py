"""OpenVINO THROUGHPUT hint with several infer requests in flight (AsyncInferQueue).

The THROUGHPUT hint splits the CPU into streams; a single synchronous caller leaves
all but one idle, which is why it looks *slower* than LATENCY in a sync loop. The
indexing pipeline keeps a queue of decoded batches, so this is the figure that
predicts indexing speed on a NUC.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edge_bench.stats import summarize
from edge_bench.towers import artifact_precision, find_artifact, ov_cpu_supports_bf16


def _compile(
    bundle: Path, tower: str, precision: str, threads: int | None
) -> tuple[Any, dict[str, str]]:
    import openvino as ov

    art = find_artifact(bundle, tower, "openvino", artifact_precision("openvino", precision))
    if art is None:
        raise LookupError(f"bundle has no {tower}/openvino/{precision} artifact")
    core = ov.Core()
    hint = "bf16" if precision == "bf16" and ov_cpu_supports_bf16() else "f32"
    config = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": hint}
    if threads:
        config["INFERENCE_NUM_THREADS"] = str(threads)
    compiled = core.compile_model(str(bundle / art.primary.path), "CPU", config)
    return compiled, {"performance_hint": "THROUGHPUT", "inference_precision_hint": hint}


def measure_async(
    bundle: Path,
    tower: str,
    precision: str,
    batch: np.ndarray,
    min_seconds: float,
    threads: int | None = None,
) -> dict[str, Any]:
    """Items/s with the plugin's optimal number of requests kept busy for `min_seconds`."""
    import openvino as ov

    compiled, config = _compile(bundle, tower, precision, threads)
    nireq = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    queue = ov.AsyncInferQueue(compiled, nireq)
    latencies: list[float] = []

    def done(_request: Any, started: float) -> None:
        latencies.append((time.perf_counter() - started) * 1000.0)

    queue.set_callback(done)
    for _ in range(nireq):  # warm-up: every request compiled and allocated once
        queue.start_async({0: batch}, time.perf_counter())
    queue.wait_all()
    latencies.clear()
    calls = 0
    t0 = time.perf_counter()
    while calls < nireq * 2 or time.perf_counter() - t0 < min_seconds:
        queue.start_async({0: batch}, time.perf_counter())
        calls += 1
    queue.wait_all()
    elapsed = time.perf_counter() - t0
    stats = summarize(latencies).to_dict(with_samples=False)
    return {
        "infer_requests": nireq,
        "calls": calls,
        "throughput": round(calls * batch.shape[0] / elapsed, 3),
        "request_latency": stats,
        "config": config,
    }
