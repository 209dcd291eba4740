"""Descriptor speed, dlib vs the converted ONNX graph, side by side on the same chips.

Why interleaved: on a machine shared with other jobs the load changes from second to
second; timing one chip with dlib and then the same chip with ONNX Runtime, in turns,
exposes both to the same load, so their ratio is fair even when the absolute figures are
inflated. One chip per call, as the face pass meets most photos (one or two faces).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

RUNTIMES = ("dlib", "onnx")


def _timed(fn: Any) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def descriptor_speed(engine: Any, chips: Sequence[np.ndarray]) -> dict[str, Any]:
    """Wall and CPU seconds per chip for each runtime, plus their largest disagreement."""
    for runtime in RUNTIMES:  # warm-up: first-call allocations are not the steady cost
        engine.raw_descriptors(chips[:1], runtime)
    wall = {r: 0.0 for r in RUNTIMES}
    cpu = {r: 0.0 for r in RUNTIMES}
    for chip in chips:
        for runtime in RUNTIMES:
            w, c = _timed(lambda r=runtime, one=chip: engine.raw_descriptors([one], r))
            wall[runtime] += w
            cpu[runtime] += c
    reference = engine.raw_descriptors(chips, "dlib")
    diff = float(np.abs(reference - engine.raw_descriptors(chips, "onnx")).max())
    n = len(chips)
    return {
        "chips": n,
        "rows": [
            {"runtime": r, "seconds_per_chip": wall[r] / n, "cpu_seconds_per_chip": cpu[r] / n}
            for r in RUNTIMES
        ],
        "speedup_wall": wall["dlib"] / max(1e-9, wall["onnx"]),
        "max_abs_diff": diff,
        "engine": engine.describe(),
    }
