"""FAISS exact vs approximate search on synthetic CLIP-like vectors.

Why synthetic: the question is how search cost scales with library size (100k, 1M
photos), and no appliance holds a million real embeddings. Real CLIP embeddings are
clustered and L2-normalised, so the generator draws points around random centres
and normalises them: uniform random vectors would make IVF/HNSW look worse than they
are (no structure to exploit) and recall numbers meaningless.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psutil

from edge_app.search.ivf import recall_at_k
from edge_bench.stats import summarize, throughput

K = 10


@dataclass(frozen=True)
class SearchConfig:
    """Sizes and knobs; defaults are the report's, tests pass tiny ones."""

    sizes: tuple[int, ...] = (100_000, 1_000_000)
    dim: int = 512
    queries: int = 500  # for recall and batch throughput
    latency_queries: int = 200  # single-query calls timed one by one
    indexes: tuple[str, ...] = ("flat", "ivf", "hnsw", "ivfpq", "hnsw-sq8")
    nprobe: int = 16
    ef_search: int = 64
    hnsw_m: int = 32
    threads: int | None = None
    seed: int = 0
    max_train: int = 100_000  # cap k-means training samples: build time stays sane at 1M


@dataclass
class IndexResult:
    """One (size, index kind) measurement."""

    n: int
    index: str
    description: str
    params: dict[str, Any]
    train_s: float
    add_s: float
    memory_mb: float
    bytes_per_vector: float
    latency: dict[str, Any]
    batch_qps: float
    recall_at_10: float
    extra: dict[str, Any] = field(default_factory=dict)


def clustered_vectors(n: int, dim: int, seed: int, centres: int = 1000) -> np.ndarray:
    """`n` unit vectors in `centres` clusters (chunked so 1M x 512 needs no 2x copy)."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim), dtype=np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    step = 65_536
    for start in range(0, n, step):
        stop = min(n, start + step)
        idx = rng.integers(0, centres, stop - start)
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32) * (0.6 / np.sqrt(dim))
        block = c[idx] + noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out


def _nlist(n: int) -> int:
    """sqrt(n)-ish lists, FAISS's rule of thumb, bounded so tiny tests still train."""
    return max(4, min(4096, int(4 * np.sqrt(n)) // 4))


def _factory(kind: str, n: int, dim: int, cfg: SearchConfig) -> tuple[str, dict[str, Any]]:
    """FAISS index_factory string and the parameters worth recording."""
    nlist = _nlist(n)
    pq_m = max(1, dim // 8)  # 8 dims per 1-byte code: 64 B/vector at 512-d (32x smaller)
    table: dict[str, tuple[str, dict[str, Any]]] = {
        "flat": ("Flat", {}),
        "ivf": (f"IVF{nlist},Flat", {"nlist": nlist, "nprobe": cfg.nprobe}),
        "hnsw": (f"HNSW{cfg.hnsw_m},Flat", {"M": cfg.hnsw_m, "efSearch": cfg.ef_search}),
        "ivfpq": (
            f"IVF{nlist},PQ{pq_m}np",
            {"nlist": nlist, "nprobe": cfg.nprobe, "pq_m": pq_m, "pq_bits": 8},
        ),
        "hnsw-sq8": (f"HNSW{cfg.hnsw_m},SQ8", {"M": cfg.hnsw_m, "efSearch": cfg.ef_search}),
    }
    if kind not in table:
        raise ValueError(f"unknown index kind {kind!r}: choose from {', '.join(table)}")
    return table[kind]


def _set_search_params(index: Any, params: dict[str, Any]) -> None:
    """nprobe / efSearch live on different objects; ParameterSpace knows where."""
    import faiss

    ps = faiss.ParameterSpace()
    if "nprobe" in params:
        ps.set_index_parameter(index, "nprobe", int(params["nprobe"]))
    if "efSearch" in params:
        ps.set_index_parameter(index, "efSearch", int(params["efSearch"]))


def _rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 2**20


def _build(
    kind: str, xb: np.ndarray, cfg: SearchConfig
) -> tuple[Any, str, dict[str, Any], float, float, float]:
    """Train (on a capped sample) and add; returns index, factory, params, times, memory."""
    import faiss

    desc, params = _factory(kind, xb.shape[0], xb.shape[1], cfg)
    before = _rss_mb()
    index = faiss.index_factory(xb.shape[1], desc, faiss.METRIC_INNER_PRODUCT)
    t0 = time.perf_counter()
    if not index.is_trained:
        rng = np.random.default_rng(cfg.seed + 1)
        take = min(xb.shape[0], cfg.max_train)
        sample = xb[np.sort(rng.choice(xb.shape[0], take, replace=False))]
        index.train(sample)
        del sample
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.add(xb)
    add_s = time.perf_counter() - t0
    _set_search_params(index, params)
    return index, desc, params, train_s, add_s, max(0.0, _rss_mb() - before)


def _time_single(index: Any, xq: np.ndarray, n_calls: int) -> dict[str, Any]:
    """One query per call, as the appliance's search box issues them."""
    samples = []
    for i in range(n_calls):
        q = xq[i % len(xq)][None, :]
        t0 = time.perf_counter()
        index.search(q, K)
        samples.append((time.perf_counter() - t0) * 1000.0)
    return summarize(samples).to_dict()


def bench_index(
    kind: str, xb: np.ndarray, xq: np.ndarray, truth: np.ndarray, cfg: SearchConfig
) -> IndexResult:
    """Build one index over `xb` and measure it against the exact `truth`."""
    index, desc, params, train_s, add_s, mem = _build(kind, xb, cfg)
    latency = _time_single(index, xq, cfg.latency_queries)
    t0 = time.perf_counter()
    _, found = index.search(xq, K)
    batch_s = time.perf_counter() - t0
    n = xb.shape[0]
    memory_mb = _index_bytes(index) / 2**20
    result = IndexResult(
        n=n,
        index=kind,
        description=desc,
        params=params,
        train_s=round(train_s, 3),
        add_s=round(add_s, 3),
        memory_mb=round(memory_mb, 2),
        bytes_per_vector=round(memory_mb * 2**20 / n, 1),
        latency=latency,
        batch_qps=round(len(xq) / batch_s, 1) if batch_s > 0 else 0.0,
        recall_at_10=round(recall_at_k(found, truth), 4),
        extra={"rss_growth_mb": round(mem, 2)},
    )
    del index
    gc.collect()
    return result


def _index_bytes(index: Any) -> int:
    """Serialised size: the structural memory of the index (RSS deltas are blurred by the
    allocator reusing freed training buffers, so small indexes would read too low)."""
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def _exact_truth(xb: np.ndarray, xq: np.ndarray) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(xb.shape[1])
    flat.add(xb)
    _, truth = flat.search(xq, K)
    del flat
    return np.asarray(truth)


def run_search(cfg: SearchConfig, log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Every index kind at every size; returns the JSON-ready `results` part."""
    import faiss

    if cfg.threads:
        faiss.omp_set_num_threads(cfg.threads)
    results: list[dict[str, Any]] = []
    for n in cfg.sizes:
        log(f"search: generating {n} x {cfg.dim} clustered vectors")
        xb = clustered_vectors(n, cfg.dim, cfg.seed)
        xq = clustered_vectors(cfg.queries, cfg.dim, cfg.seed + 7919)
        truth = _exact_truth(xb, xq)
        for kind in cfg.indexes:
            log(f"search: n={n} index={kind}")
            r = bench_index(kind, xb, xq, truth, cfg)
            results.append(r.__dict__)
            log(
                f"search: n={n} {kind}: p50 {r.latency['p50_ms']:.3f} ms, "
                f"recall@10 {r.recall_at_10:.3f}, build {r.train_s + r.add_s:.1f} s"
            )
        del xb
        gc.collect()
    return {"results": results, "faiss_threads": faiss.omp_get_max_threads()}


def summary_qps(latency: dict[str, Any]) -> float:
    """Single-stream queries/s at the median latency (for the Markdown table)."""
    from edge_bench.stats import LatencyStats

    stats = LatencyStats(
        **{
            k: latency[k]
            for k in ("n", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "min_ms", "max_ms")
        },
        samples_ms=(),
    )
    return throughput(1, stats)
