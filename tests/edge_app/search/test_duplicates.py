"""Near-duplicate groups over a real library and real FAISS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_app.errors import QueryError
from edge_app.library.store import Library, PhotoMeta
from edge_app.search.duplicates import duplicate_pairs, find_duplicates
from edge_app.search.index_store import IndexStore

DIM = 24


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def library(tmp_path: Path) -> tuple[Library, IndexStore, list[int]]:
    """40 unrelated photos + a burst of 5 near-identical shots + one chained pair."""
    rng = np.random.default_rng(42)
    base = _unit(rng.standard_normal((40, DIM)))
    burst = _unit(base[0] + 0.02 * rng.standard_normal((5, DIM)))
    twin = _unit(base[1] + 0.02 * rng.standard_normal(DIM))
    vectors = np.vstack([base, burst, twin[None, :]])
    lib = Library(tmp_path / "library.db")
    ids = lib.record_photos(
        [(PhotoMeta(f"p{i:02d}.jpg", 1, 1), v) for i, v in enumerate(vectors)], "B"
    )
    store = IndexStore(tmp_path / "index")
    store.open(lib, "B", DIM)
    return lib, store, ids


def test_groups_are_transitive_sorted_and_deterministic(
    library: tuple[Library, IndexStore, list[int]],
) -> None:
    lib, store, ids = library
    groups = find_duplicates(lib, store.current(), "B", 0.95)
    assert [g.ids for g in groups] == [(ids[0], *ids[40:45]), (ids[1], ids[45])]
    assert all(0.95 <= g.min_score <= 1.0 for g in groups)
    assert groups == find_duplicates(lib, store.current(), "B", 0.95)
    pairs = duplicate_pairs(groups)
    assert pairs.shape == (15 + 1, 2) and (pairs[:, 0] < pairs[:, 1]).all()


def test_threshold_controls_grouping(library: tuple[Library, IndexStore, list[int]]) -> None:
    lib, store, _ = library
    assert find_duplicates(lib, store.current(), "B", 1.0) == []
    loose = find_duplicates(lib, store.current(), "B", 0.3)
    assert sum(len(g.ids) for g in loose) > 8  # unrelated photos start to join
    with pytest.raises(QueryError, match="threshold"):
        find_duplicates(lib, store.current(), "B", 0.0)
