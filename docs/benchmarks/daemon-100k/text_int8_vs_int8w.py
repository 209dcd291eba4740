"""Memory and batch-1 speed of a text tower's full int8 vs int8w IR under OpenVINO's CPU plugin.

Usage: python text_int8_vs_int8w.py BUNDLE_DIR int8|int8w  (one process per precision).
200 inferences over 5 shapes (3 single-query widths, 2 tagging pieces of 16 rows).
"""

from __future__ import annotations

import ctypes
import sys
import time
from pathlib import Path

import numpy as np
import openvino as ov


def rss_mb() -> float:
    return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) / 1024


def main(bundle: Path, precision: str) -> None:
    core = ov.Core()
    start = rss_mb()
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    model = core.read_model(str(bundle / f"text_{precision}.xml"))
    request = core.compile_model(model, "CPU", config).create_infer_request()
    compiled = rss_mb()
    rng = np.random.default_rng(0)
    single_ms = []
    for i in range(200):
        batch, width = ((1, 8), (1, 16), (16, 16), (16, 24), (1, 24))[i % 5]
        t0 = time.perf_counter()
        request.infer({0: rng.integers(1, 1000, size=(batch, width)).astype(np.int64)})
        if batch == 1:
            single_ms.append((time.perf_counter() - t0) * 1e3)
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    print(
        f"{precision}: compiled +{compiled - start:.0f} MB, after 200 runs +{rss_mb() - start:.0f}"
        f" MB; batch-1 p50 {np.percentile(single_ms, 50):.1f} ms"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
