"""Timing primitives shared by every benchmark.

All timings use `time.perf_counter` and are reported in milliseconds. Percentiles,
not means, because a photo appliance is judged by its slow queries (p95/p99), and
the raw samples are kept so the latency-distribution chart can be drawn later.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    """Summary of repeated calls; `samples_ms` kept for charts."""

    n: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    min_ms: float
    max_ms: float
    samples_ms: tuple[float, ...]

    def to_dict(self, with_samples: bool = True) -> dict[str, Any]:
        d = asdict(self)
        d["samples_ms"] = list(self.samples_ms) if with_samples else []
        return d


def summarize(samples_ms: list[float]) -> LatencyStats:
    """Percentiles over raw samples (linear interpolation, numpy default)."""
    if not samples_ms:
        raise ValueError("no samples to summarise")
    a = np.asarray(samples_ms, dtype=np.float64)
    p50, p95, p99 = (float(x) for x in np.percentile(a, [50, 95, 99]))
    return LatencyStats(
        n=len(a),
        mean_ms=round(float(a.mean()), 4),
        p50_ms=round(p50, 4),
        p95_ms=round(p95, 4),
        p99_ms=round(p99, 4),
        min_ms=round(float(a.min()), 4),
        max_ms=round(float(a.max()), 4),
        samples_ms=tuple(round(float(x), 4) for x in a),
    )


def time_calls(
    fn: Callable[[], object],
    warmup: int = 2,
    min_iters: int = 5,
    max_iters: int = 200,
    min_seconds: float = 2.0,
) -> LatencyStats:
    """Call `fn` until both `min_iters` and `min_seconds` are reached (bounded by `max_iters`).

    A time budget rather than a fixed count keeps big batches from taking minutes
    while still giving small, fast calls enough samples for a stable p99.
    """
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < max_iters:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
        if len(samples) >= min_iters and time.perf_counter() - start >= min_seconds:
            break
    return summarize(samples)


def throughput(items_per_call: int, stats: LatencyStats) -> float:
    """Items per second at the median call time (robust to one slow outlier)."""
    return round(items_per_call / (stats.p50_ms / 1000.0), 3) if stats.p50_ms > 0 else 0.0


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """Run once; return (result, seconds). For build and load times."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0
