"""The approximate index for large libraries: IVF over 8-bit scalar-quantised codes.

Why IVF-SQ8 (measured in ``docs/benchmarks/search-1m``): 512 bytes per 512-d vector, a
quarter of float32 (1M photos: 0.5 GB instead of 2 GB), while keeping what the appliance
needs from FAISS: ``remove_ids``, ``IDSelector`` filters and ``range_search``. PQ codes
(64 B) lose too much recall on the isotropic worst case even with re-ranking; HNSW has
no removal and no cheap filtered search.

Build cost is bounded too: k-means trains on a sample of ``TRAIN_PER_LIST`` vectors per
list, vectors are added batch by batch as SQLite yields them, and the exact top-10 used
to tune ``nprobe`` is computed in the same streaming pass, so a rebuild never holds all
float32 vectors at once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

log = logging.getLogger(__name__)

TARGET_RECALL = 0.95
RECALL_SAMPLE = 256
TRAIN_PER_LIST = 64  # FAISS warns under 39 points per centroid
K = 10
FAR_NOISE = (0.0, 1.0, 3.0)  # probe groups: cosine to their library vector 1, ~0.7, ~0.3
MIN_CANDIDATES = 40  # re-ranked candidates: at least this many, and
RERANK_DEPTH = 4  # this many per wanted result
RANGE_MARGIN = 0.01  # 8-bit codes' score error is ~5e-4: range candidates start this lower
Batches = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class Tuned:
    """A trained, filled IVF index and the ``nprobe`` that reached the recall target."""

    index: Any
    nprobe: int
    recall_at_10: float


def nlist_for(n: int) -> int:
    """About sqrt(n) lists (1,000 at 1M), never fewer than `TRAIN_PER_LIST` points each."""
    return max(1, min(round(math.sqrt(n)), n // TRAIN_PER_LIST))


def new_ivf(dim: int, nlist: int) -> Any:
    """An untrained IVF-SQ8 inner-product index (the Python wrapper keeps the quantizer)."""
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    ivf.cp.seed = 1234
    return ivf


def candidates(k: int) -> int:
    """How many code-scored candidates to fetch for an exactly re-ranked top-``k``."""
    return max(MIN_CANDIDATES, RERANK_DEPTH * k)


def ivf_params(nprobe: int) -> Any:
    params: Any = faiss.SearchParametersIVF()
    params.nprobe = nprobe
    return params


def build_ivf(batches: Batches, n: int, dim: int, depth: int = K) -> Tuned:
    """Train on a sample, add every batch, tune ``nprobe``: two passes over ``batches``.

    ``depth``: how many code-scored results the searches will re-rank exactly (K when
    they are not re-ranked); recall counts the exact top-10 found within that depth.
    """
    nlist = nlist_for(n)
    rng = np.random.default_rng(0)
    train_ids, train = _pick(batches(), n, min(n, nlist * TRAIN_PER_LIST), rng)
    probe_ids, probes = _probe_queries(train_ids, train, rng)
    ivf = new_ivf(dim, nlist)
    ivf.train(train)
    del train
    top = _StreamingTopK(probes, K + 1)
    for ids, vectors in batches():
        ivf.add_with_ids(vectors, ids)
        top.update(ids, vectors)
    truth = _drop_self(top.ids(), probe_ids, K)
    nprobe, recall = tune_nprobe(ivf, probes, probe_ids, truth, nlist, depth)
    log.info(
        "vector index: IVF%d,SQ8 over %d vectors, nprobe=%d, recall@10=%.3f vs exact "
        "(worst of %d-query groups near and far from the library; top %d re-ranked)",
        nlist, n, nprobe, recall, len(probes) // len(FAR_NOISE), depth,
    )  # fmt: skip
    return Tuned(ivf, nprobe, recall)


def tune_nprobe(
    ivf: Any,
    probes: np.ndarray,
    probe_ids: np.ndarray,
    truth: np.ndarray,
    nlist: int,
    depth: int = K,
) -> tuple[int, float]:
    """Smallest ``nprobe`` (doubling, then bisecting) whose recall@10 reaches the target
    in every probe group (see `_probe_queries`).

    With re-ranking (``depth`` > K) an exact top-10 item is found when it is anywhere in
    the top ``depth`` by code score: the exact re-rank then puts it back in the top 10.
    """

    kind = np.where(probe_ids >= 0, 0, -2 - probe_ids)  # -2: a query that is no library vector
    groups = [kind == g for g in range(len(FAR_NOISE))]

    def recall(nprobe: int) -> float:
        """The worst group's recall: each kind of query must reach the target."""
        _, found = ivf.search(probes, depth + 1, params=ivf_params(nprobe))
        found = _drop_self(found, probe_ids, depth)
        return min(recall_at_k(found[g], truth[g]) for g in groups if g.any())

    low, high = 0, 1
    while recall(high) < TARGET_RECALL and high < nlist:
        low, high = high, min(nlist, high * 2)
    while high - low > max(1, high // 8):  # bisect to within 1/8 of the answer
        mid = (low + high) // 2
        low, high = (mid, high) if recall(mid) < TARGET_RECALL else (low, mid)
    return high, recall(high)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of each exact top-k (``truth``) among the ``found`` ids (any number)."""
    hits = [
        len(set(f.tolist()) & set(t.tolist()) - {-1}) for f, t in zip(found, truth, strict=True)
    ]
    return float(np.mean(hits)) / truth.shape[1] if len(truth) else 1.0


def _probe_queries(
    ids: np.ndarray, vectors: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Queries to tune with: library vectors, and others moved away from them.

    A text query lies far from every photo (CLIP's modality gap), where the exact top-10
    spreads over more lists than a photo's neighbours do; tuning only on library vectors
    would leave such queries short of the target. Groups by `FAR_NOISE`: library vectors
    as they are (``own`` = their id, dropped from the results), then ones moved to cosine
    ~0.7 and ~0.3 from their source (``own`` = -2 - group: nothing to drop).
    """
    some = rng.choice(len(ids), size=min(len(ids), RECALL_SAMPLE), replace=False)
    own, queries = ids[some].copy(), vectors[some].copy()
    group = np.arange(len(own)) % len(FAR_NOISE)
    for g, sigma in enumerate(FAR_NOISE):
        rows = group == g
        if sigma == 0.0 or not rows.any():
            continue
        noise = rng.standard_normal((int(rows.sum()), vectors.shape[1])).astype(np.float32)
        moved = queries[rows] + sigma * noise / np.sqrt(vectors.shape[1])
        queries[rows] = moved / np.linalg.norm(moved, axis=1, keepdims=True)
        own[rows] = -2 - g
    return own, np.ascontiguousarray(queries)


def _drop_self(found: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    """Each row without the query's own id, cut to ``k`` (queries are library vectors)."""
    rows = [[int(i) for i in row if i != me][:k] for row, me in zip(found, own, strict=True)]
    return np.asarray([r + [-1] * (k - len(r)) for r in rows], dtype=np.int64).reshape(-1, k)


def _pick(
    batches: Iterable[tuple[np.ndarray, np.ndarray]], n: int, take: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``take`` (ids, vectors) chosen uniformly without replacement, one batch at a time."""
    chosen = np.sort(rng.choice(n, size=take, replace=False))
    ids, vecs, seen = [], [], 0
    for batch_ids, vectors in batches:
        lo, hi = np.searchsorted(chosen, [seen, seen + len(vectors)])
        ids.append(batch_ids[chosen[lo:hi] - seen])
        vecs.append(vectors[chosen[lo:hi] - seen])
        seen += len(vectors)
    return np.concatenate(ids), np.ascontiguousarray(np.concatenate(vecs), dtype=np.float32)


class _StreamingTopK:
    """Exact top-k ids of fixed queries over vectors that arrive in batches."""

    def __init__(self, queries: np.ndarray, k: int) -> None:
        self.queries, self.k = queries, k
        self._scores = np.full((len(queries), 0), -np.inf, np.float32)
        self._ids = np.zeros((len(queries), 0), np.int64)

    def update(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        scores = np.concatenate([self._scores, self.queries @ vectors.T], axis=1)
        all_ids = np.concatenate(
            [self._ids, np.broadcast_to(ids, (len(self.queries), len(ids)))], 1
        )
        keep = np.argsort(-scores, axis=1, kind="stable")[:, : self.k]
        self._scores = np.take_along_axis(scores, keep, 1)
        self._ids = np.take_along_axis(all_ids, keep, 1)

    def ids(self) -> np.ndarray:
        return self._ids


def single_batch(ids: np.ndarray, vectors: np.ndarray) -> Batches:
    """`Batches` over arrays already in memory (the flat -> IVF conversion)."""

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(ids), 65_536):
            yield ids[start : start + 65_536], vectors[start : start + 65_536]

    return batches
