"""Near-duplicate groups: photos whose embeddings are at least ``threshold`` cosine-similar.

Why range search + union-find: a burst of 20 near-identical shots must become ONE group
even though each photo's k nearest neighbours would be a truncated view; a range search
returns every neighbour above the threshold, and union-find joins the pairs transitively
(A~B and B~C put A, B and C together). Exact with the flat index; with the IVF index
(past ``ann_threshold``) a pair can be missed, the same trade-off as search.

Output is deterministic: ids sorted inside a group, groups by size (largest first), then
by their smallest id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from edge_app.errors import QueryError
from edge_app.search.index_store import EmbeddingSource
from edge_app.search.vector_index import VectorIndex

log = logging.getLogger(__name__)

BATCH = 1024


@dataclass(frozen=True)
class DuplicateGroup:
    """Photos that look the same; ``min_score`` is the weakest cosine link that joined them."""

    ids: tuple[int, ...]
    min_score: float


class _UnionFind:
    """Disjoint sets over photo ids, remembering the weakest joining edge per set."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.weakest: dict[int, float] = {}

    def find(self, x: int) -> int:
        root = self.parent.setdefault(x, x)
        while root != self.parent[root]:
            root = self.parent[root]
        while x != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int, score: float) -> None:
        ra, rb = self.find(a), self.find(b)
        weakest = min(score, self.weakest.get(ra, 1.0), self.weakest.get(rb, 1.0))
        if ra != rb:
            ra, rb = min(ra, rb), max(ra, rb)
            self.parent[rb] = ra
        self.weakest[ra] = weakest

    def groups(self) -> list[DuplicateGroup]:
        members: dict[int, list[int]] = {}
        for x in self.parent:
            members.setdefault(self.find(x), []).append(x)
        out = [
            DuplicateGroup(tuple(sorted(ids)), round(self.weakest.get(root, 1.0), 6))
            for root, ids in members.items()
            if len(ids) > 1
        ]
        return sorted(out, key=lambda g: (-len(g.ids), g.ids[0]))


def find_duplicates(
    library: EmbeddingSource, index: VectorIndex, bundle_id: str, threshold: float
) -> list[DuplicateGroup]:
    """All near-duplicate groups of the library at cosine ``threshold`` (e.g. settings 0.95).

    ``library`` supplies the embeddings (source of truth), ``index`` the neighbour search.
    """
    if not 0.0 < threshold <= 1.0:
        raise QueryError(f"duplicate threshold must be in (0, 1], got {threshold}")
    sets = _UnionFind()
    for ids, vectors in library.iter_embeddings(bundle_id, BATCH):
        for own, (scores, found) in zip(ids, index.range_search(vectors, threshold), strict=True):
            for other, score in zip(found, scores, strict=True):
                if other != own and other >= 0:
                    sets.union(int(own), int(other), float(score))
    groups = sets.groups()
    log.info("duplicates: %d group(s) at cosine >= %.3f", len(groups), threshold)
    return groups


def duplicate_pairs(groups: list[DuplicateGroup]) -> np.ndarray:
    """(n, 2) int64 array of every (smaller id, larger id) pair inside the groups."""
    pairs = [(a, b) for g in groups for i, a in enumerate(g.ids) for b in g.ids[i + 1 :]]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
