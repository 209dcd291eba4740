"""RSS an OpenVINO text tower gains over the input shapes a served daemon meets.

600 inferences as the daemon makes them: single queries (batch 1, 4-39 tokens) and
tagging pieces (batch 16 and a remainder of 7, 6-29 tokens), with the text cut to the
exact length (before) or to steps of 8 tokens (`engines.clip_encoder.trim_padding`).
Usage: python text_shapes.py BUNDLE_DIR exact|steps  (run each in its own process).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import openvino as ov


def rss_mb() -> float:
    return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) / 1024


def main(bundle: Path, mode: str) -> None:
    core = ov.Core()
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    model = core.read_model(str(bundle / "text_int8w.xml"))
    request = core.compile_model(model, "CPU", config).create_infer_request()
    base = rss_mb()
    rng = np.random.default_rng(0)
    shapes: set[tuple[int, int]] = set()
    single_ms: list[float] = []
    started = time.perf_counter()
    for i in range(600):
        batch = (1, 16, 16, 16, 7)[i % 5]
        width = int(rng.integers(4, 40)) if batch == 1 else int(rng.integers(6, 30))
        if mode == "steps":
            width = min(77, -(-width // 8) * 8)
        shapes.add((batch, width))
        ids = rng.integers(1, 1000, size=(batch, width)).astype(np.int64)
        t0 = time.perf_counter()
        request.infer({0: ids})
        if batch == 1:
            single_ms.append((time.perf_counter() - t0) * 1e3)
    p50, p95 = np.percentile(single_ms, [50, 95])
    print(
        f"{mode}: {len(shapes)} shapes, RSS +{rss_mb() - base:.0f} MB, "
        f"{time.perf_counter() - started:.1f} s; batch-1 p50 {p50:.1f} p95 {p95:.1f} ms"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
