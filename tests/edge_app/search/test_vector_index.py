"""VectorIndex (real FAISS) and IndexStore (real files, real SQLite library)."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from edge_app.errors import VectorIndexError
from edge_app.library.store import Library, PhotoMeta
from edge_app.search.index_store import META_NAME, IndexStore
from edge_app.search.vector_index import VectorIndex

DIM = 32


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, seed: int = 0, clusters: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM))
    labels = rng.integers(0, clusters, n)
    return _unit(centres[labels] + 0.35 * rng.standard_normal((n, DIM)))


def brute(vectors: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(-(vectors @ q), kind="stable")[:k]
    return ids[order]


def test_flat_search_matches_brute_force_and_replaces_ids() -> None:
    vecs = clustered(500)
    ids = np.arange(500, dtype=np.int64) * 3 + 7
    index = VectorIndex.build(ids, vecs, ann_threshold=10_000)
    assert index.kind == "flat" and len(index) == 500
    scores, found = index.search(vecs[:5], 10)
    for q in range(5):
        assert set(found[q]) == set(brute(vecs, ids, vecs[q], 10))
    assert found[0, 0] == ids[0] and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    index.add(ids[:1], vecs[1:2])  # replacing id 7 with another vector: no duplicate id
    assert len(index) == 500
    assert index.remove(ids[:10]) == 10 and len(index) == 490
    assert not np.isin(ids[:10], index.ids()).any()


def test_filter_is_applied_inside_the_search() -> None:
    vecs = clustered(2000, seed=1)
    ids = np.arange(2000, dtype=np.int64)
    index = VectorIndex.build(ids, vecs, ann_threshold=10_000)
    q = vecs[0]
    far = ids[
        np.argsort(vecs @ q)[:50]
    ]  # the 50 least similar: post-filtering top-k would miss them
    scores, found = index.search(q, 10, allowed=far)
    assert np.isin(found[0], far).all() and (found[0] >= 0).all()
    assert set(found[0]) == set(brute(vecs[far], far, q, 10))
    _, none = index.search(q, 10, allowed=np.zeros(0, dtype=np.int64))
    assert (none == -1).all()


def test_ivf_past_threshold_keeps_recall_and_exact_selective_filters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    vecs, queries = np.split(clustered(4100, seed=2), [4000])  # held-out queries
    ids = np.arange(4000, dtype=np.int64) + 100
    with caplog.at_level(logging.INFO, logger="edge_app.search"):
        index = VectorIndex.build(ids, vecs, ann_threshold=1000)
    assert index.kind == "ivf" and len(index) == 4000
    assert index.recall_at_10 is not None and index.recall_at_10 >= 0.95
    assert "recall@10" in caplog.text
    _, found = index.search(queries, 10)
    recall = np.mean(
        [len(set(found[i]) & set(brute(vecs, ids, queries[i], 10))) / 10 for i in range(100)]
    )
    assert recall >= 0.9
    allowed = ids[::50]  # 80 ids: selective, so the search is exhaustive over them
    _, got = index.search(queries[0], 5, allowed=allowed)
    assert set(got[0]) == set(brute(vecs[::50], allowed, queries[0], 5))
    index.add(np.array([1], dtype=np.int64), queries[:1])
    assert index.search(queries[0], 1)[1][0, 0] == 1
    assert index.remove(np.array([1, 100])) == 2 and len(index) == 3999
    assert index.ids()[0] == 101


def test_adding_past_threshold_converts_to_ivf() -> None:
    vecs = clustered(1200, seed=4)
    index = VectorIndex(DIM, ann_threshold=1000)
    index.add(np.arange(600), vecs[:600])
    assert index.kind == "flat"
    index.add(np.arange(600, 1200), vecs[600:])
    assert index.kind == "ivf" and len(index) == 1200
    assert np.array_equal(index.ids(), np.arange(1200))


def test_range_search_sorted_best_first() -> None:
    vecs = clustered(300, seed=5)
    ids = np.arange(300, dtype=np.int64)
    index = VectorIndex.build(ids, vecs)
    [(scores, found)] = index.range_search(vecs[:1], 0.8)
    expected = ids[vecs @ vecs[0] >= 0.8]
    assert set(found) == set(expected) and found[0] == 0
    assert np.all(np.diff(scores) <= 0)


def test_dimension_mismatch_is_a_domain_error() -> None:
    index = VectorIndex(DIM)
    with pytest.raises(VectorIndexError, match="dimension"):
        index.add(np.arange(2), np.zeros((2, DIM + 1), np.float32))


def test_concurrent_add_and_search() -> None:
    vecs = clustered(2000, seed=6)
    index = VectorIndex(DIM, ann_threshold=100_000)
    errors: list[BaseException] = []

    def writer() -> None:
        for start in range(0, 2000, 100):
            index.add(np.arange(start, start + 100), vecs[start : start + 100])

    def reader() -> None:
        try:
            for i in range(200):
                _, found = index.search(vecs[i], 5)
                assert (found[0] < 2000).all()
        except BaseException as exc:  # collected and re-raised by the test thread
            errors.append(exc)

    threads = [
        threading.Thread(target=writer),
        *(threading.Thread(target=reader) for _ in range(3)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(index) == 2000


# ------------------------------------------------------------------ IndexStore


@pytest.fixture
def filled(tmp_path: Path) -> tuple[Library, np.ndarray, np.ndarray]:
    lib = Library(tmp_path / "library.db")
    vecs = clustered(300, seed=7)
    ids = lib.record_photos([(PhotoMeta(f"p{i}.jpg", 1, 1), v) for i, v in enumerate(vecs)], "B1")
    return lib, np.asarray(ids), vecs


def _store(tmp_path: Path) -> IndexStore:
    return IndexStore(tmp_path / "index", ann_threshold=10_000)


def test_save_and_load_roundtrip(
    tmp_path: Path, filled: tuple[Library, np.ndarray, np.ndarray]
) -> None:
    lib, ids, vecs = filled
    store = _store(tmp_path)
    store.open(lib, "B1", DIM)  # first start: nothing saved, rebuilt and saved
    loaded = _store(tmp_path).load("B1", lib.index_generation(), DIM)
    assert len(loaded) == 300
    assert loaded.search(vecs[5], 1)[1][0, 0] == ids[5]
    files = sorted(p.name for p in (tmp_path / "index").iterdir())
    assert files == [META_NAME, f"vectors-{lib.index_generation()}.faiss"]


def _rebuilt(
    tmp_path: Path, lib: Library, caplog: pytest.LogCaptureFixture, why: str
) -> VectorIndex:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="edge_app.search.index_store"):
        index = _store(tmp_path).open(lib, "B1", DIM)
    assert "rebuilding from SQLite" in caplog.text and why in caplog.text
    assert len(index) == lib.count_embeddings("B1")
    return index


def test_missing_stale_and_damaged_files_are_rebuilt(
    tmp_path: Path, filled: tuple[Library, np.ndarray, np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    lib, ids, vecs = filled
    _rebuilt(tmp_path, lib, caplog, "missing")
    # stale: the library moved on (a crash after the SQLite commit, before the save)
    lib.record_photos([(PhotoMeta("new.jpg", 1, 1), clustered(1, seed=9)[0])], "B1")
    _rebuilt(tmp_path, lib, caplog, "generation")
    # damaged FAISS file: overwrite bytes in the middle (FAISS itself would not notice)
    faiss_file = next((tmp_path / "index").glob("vectors-*.faiss"))
    data = bytearray(faiss_file.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    faiss_file.write_bytes(bytes(data))
    _rebuilt(tmp_path, lib, caplog, "checksum")
    # truncated FAISS file with a matching checksum: FAISS refuses to read it
    faiss_file = next((tmp_path / "index").glob("vectors-*.faiss"))
    meta_path = tmp_path / "index" / META_NAME
    meta = json.loads(meta_path.read_text())
    faiss_file.write_bytes(faiss_file.read_bytes()[:200])
    import hashlib

    meta["sha256"] = hashlib.sha256(faiss_file.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))
    _rebuilt(tmp_path, lib, caplog, "not a readable FAISS index")
    # damaged metadata
    meta_path.write_text("{not json")
    index = _rebuilt(tmp_path, lib, caplog, "damaged")
    assert index.search(vecs[3], 1)[1][0, 0] == ids[3]


def test_other_bundle_and_count_mismatch_are_rebuilt(
    tmp_path: Path, filled: tuple[Library, np.ndarray, np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    lib, ids, vecs = filled
    store = _store(tmp_path)
    store.open(lib, "B1", DIM)
    store.save(VectorIndex.build(ids[:10], vecs[:10]), lib.index_generation(), "B1")
    _rebuilt(tmp_path, lib, caplog, "index holds 10 vectors")
    store.save(VectorIndex.build(ids, vecs), lib.index_generation(), "OTHER")
    _rebuilt(tmp_path, lib, caplog, "OTHER")


def test_current_requires_open_and_save_current(
    tmp_path: Path, filled: tuple[Library, np.ndarray, np.ndarray]
) -> None:
    lib, ids, vecs = filled
    store = _store(tmp_path)
    with pytest.raises(VectorIndexError, match="not open"):
        store.current()
    store.open(lib, "B1", DIM)
    new_id = lib.record_photo(PhotoMeta("x.jpg", 1, 1), vecs[0], "B1")
    store.current().add(np.array([new_id]), vecs[:1])
    store.save_current(lib.index_generation())
    assert len(_store(tmp_path).load("B1", lib.index_generation(), DIM)) == 301


def test_advance_keeps_the_index_current_only_after_exactly_its_own_change(
    tmp_path: Path, filled: tuple[Library, np.ndarray, np.ndarray]
) -> None:
    """The trash changes rows and vectors together; another writer's change in between
    (an `edge-app index` beside the daemon) must still make `refresh` re-open the index."""
    lib, ids, vecs = filled
    store = _store(tmp_path)
    store.open(lib, "B1", DIM)
    before = lib.index_generation()
    lib.trash_photo(int(ids[0]), ".trash/0")
    store.current().remove(ids[:1])
    store.advance(before, lib.index_generation())
    assert store.refresh(lib, "B1", DIM) is False  # current: kept, no rebuild
    before = lib.index_generation()
    lib.record_photos([(PhotoMeta("other.jpg", 1, 1), clustered(1, seed=7)[0])], "B1")
    lib.trash_photo(int(ids[1]), ".trash/1")  # two changes since `before`
    store.advance(before, lib.index_generation())
    assert store.refresh(lib, "B1", DIM) is True  # re-opened from what is stored


def test_ivf_index_survives_save_and_load(tmp_path: Path) -> None:
    vecs = clustered(2500, seed=8)
    ids = np.arange(2500, dtype=np.int64)
    index = VectorIndex.build(ids, vecs, ann_threshold=1000)
    store = IndexStore(tmp_path / "index", ann_threshold=1000)
    store.save(index, generation=7, bundle_id="B1")
    loaded = store.load("B1", 7, DIM)
    assert (loaded.kind, loaded.nprobe, len(loaded)) == ("ivf", index.nprobe, 2500)
    np.testing.assert_array_equal(loaded.search(vecs[:20], 5)[1], index.search(vecs[:20], 5)[1])
