"""FAISS vector index keyed by photo id, and its crash-safe on-disk store.

Why two index kinds: up to ``ann_threshold`` vectors an exact ``IndexIDMap2(IndexFlatIP)``
is fast enough on a Jetson/NUC CPU (≈10 ms for 50k x 512) and has perfect recall. Past it
we switch to IVF over 8-bit codes (`edge_app.search.ivf`: a quarter of the memory, trained
on a sample, ``nprobe`` tuned for `TARGET_RECALL` recall@10 against exact search); it
supports ``remove_ids`` and ``IDSelector`` filters natively (HNSW supports neither removal
nor cheap filtered search, which the indexer and the search filters need). A selective
filter (allow-list under `EXACT_FILTER_FRACTION` of the index) probes every list, which
makes filtered IVF search exhaustive over the allowed ids.

Scores are inner products of L2-normalised vectors, i.e. cosine similarities. `IndexStore`
saves the index atomically with the library's ``index_generation``; at start-up a missing,
damaged or stale file is rebuilt from the embeddings in SQLite, and the log says why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

from edge_app.errors import VectorIndexError
from edge_app.search.ivf import (
    RANGE_MARGIN,
    TARGET_RECALL,
    Batches,
    K,
    build_ivf,
    candidates,
    ivf_params,
    single_batch,
)

log = logging.getLogger(__name__)

__all__ = ["TARGET_RECALL", "ExactVectors", "IndexStore", "VectorIndex"]

# (ids, float32 vectors) of the stored embeddings of those ids: `Library.get_embeddings`
ExactVectors = Callable[[Sequence[int]], tuple[np.ndarray, np.ndarray]]

EXACT_FILTER_FRACTION = 0.1
FORMAT_VERSION = 1
META_NAME = "index.json"


class VectorIndex:
    """Thread-safe FAISS index of (photo id, unit vector); exact, or IVF past a threshold.

    With ``exact`` (the stored embeddings), IVF results are re-ranked by exact cosine:
    scores are then those of the stored vectors, and recall is tuned for that depth.
    """

    def __init__(
        self, dim: int, ann_threshold: int = 50_000, exact: ExactVectors | None = None
    ) -> None:
        if dim <= 0:
            raise VectorIndexError(f"embedding dimension must be positive, got {dim}")
        self.dim = dim
        self.ann_threshold = ann_threshold
        self.kind = "flat"
        self.nprobe = 0
        self.nlist = 0
        self.recall_at_10: float | None = None
        self.exact = exact
        self._lock = threading.RLock()
        self._index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        vectors: np.ndarray,
        ann_threshold: int = 50_000,
        exact: ExactVectors | None = None,
    ) -> VectorIndex:
        """A new index holding ``vectors``; IVF (trained here) if there are more than the threshold."""
        dim = _check_matrix(vectors, None).shape[1]
        batches = single_batch(_as_ids(ids), _check_matrix(vectors, dim))
        return cls.build_from(batches, len(ids), dim, ann_threshold, exact)

    @classmethod
    def build_from(
        cls,
        batches: Batches,
        n: int,
        dim: int,
        ann_threshold: int = 50_000,
        exact: ExactVectors | None = None,
    ) -> VectorIndex:
        """Like `build`, from ``n`` vectors that ``batches()`` yields in (ids, vectors) chunks."""
        index = cls(dim, ann_threshold, exact)
        if n > ann_threshold:
            index._become_ivf(batches, n)
        else:
            for ids, vectors in batches():
                index.add(ids, vectors)
        return index

    def __len__(self) -> int:
        with self._lock:
            return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace vectors; crossing ``ann_threshold`` converts to IVF (logged)."""
        ids, vectors = _as_ids(ids), _check_matrix(vectors, self.dim)
        if len(ids) != len(vectors):
            raise VectorIndexError(f"{len(ids)} ids for {len(vectors)} vectors")
        with self._lock:
            if len(ids):
                self._index.remove_ids(faiss.IDSelectorBatch(ids))
                self._index.add_with_ids(vectors, ids)
            if self.kind == "flat" and self._index.ntotal > self.ann_threshold:
                self._become_ivf(single_batch(*self._flat_contents()), self._index.ntotal)

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids (unknown ids are ignored); returns how many were removed."""
        ids = _as_ids(ids)
        if not len(ids):
            return 0
        with self._lock:
            return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def ids(self) -> np.ndarray:
        """All ids held (sorted int64)."""
        with self._lock:
            if self.kind == "flat":
                return np.sort(faiss.vector_to_array(self._index.id_map).astype(np.int64))
            invlists = self._index.invlists
            parts = [
                faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                for i in range(self._index.nlist)
                if invlists.list_size(i)
            ]
            return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids), each ``(Q, k)``; missing slots have id -1.

        ``allowed`` (photo ids) is applied inside FAISS through an ``IDSelector``, so a
        filter never starves the result list the way post-filtering would.
        """
        queries = _check_matrix(queries, self.dim)
        empty = (
            np.full((len(queries), k), -np.inf, np.float32),
            np.full((len(queries), k), -1, np.int64),
        )
        if k <= 0 or (allowed is not None and len(allowed) == 0):
            return empty
        rerank = self.kind == "ivf" and self.exact is not None
        with self._lock:
            if self._index.ntotal == 0:
                return empty
            sel, params = self._params(allowed)
            scores, ids = self._index.search(queries, candidates(k) if rerank else k, params=params)
            del sel  # kept alive until FAISS is done with it
        return self._rerank(queries, ids, k) if rerank else (scores, ids)

    def _rerank(
        self, queries: np.ndarray, found: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` of each row of candidate ids by exact cosine with the stored vectors."""
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        stored = self._fetch(found)
        for q, row in enumerate(found):
            have, exact = _exact_scores(queries[q], row, *stored)
            order = np.lexsort((have, -exact))[:k]
            scores[q, : len(order)], ids[q, : len(order)] = exact[order], have[order]
        return scores, ids

    def _fetch(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stored vectors of every candidate of every query in one fetch, sorted by id:
        a batch of queries (the duplicate finder sends 4,096) costs one SQLite read."""
        assert self.exact is not None
        wanted = np.unique(candidates[candidates >= 0])
        if not len(wanted):
            return wanted, np.zeros((0, self.dim), np.float32)
        have, vectors = self.exact(wanted.tolist())
        order = np.argsort(have, kind="stable")
        return have[order], vectors[order]

    def range_search(
        self, queries: np.ndarray, threshold: float, allowed: np.ndarray | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query, (scores, ids) of every vector scoring >= ``threshold``, best first."""
        queries = _check_matrix(queries, self.dim)
        if allowed is not None and len(allowed) == 0:
            return [(np.zeros(0, np.float32), np.zeros(0, np.int64)) for _ in queries]
        rerank = self.kind == "ivf" and self.exact is not None
        radius = float(threshold) - (RANGE_MARGIN if rerank else 0.0)
        with self._lock:
            sel, params = self._params(allowed)
            lims, scores, ids = self._index.range_search(queries, radius, params=params)
            del sel
        stored = self._fetch(ids) if rerank else None
        out = []
        for q in range(len(queries)):
            s, i = scores[lims[q] : lims[q + 1]], ids[lims[q] : lims[q + 1]]
            if stored is not None:
                i, s = _exact_scores(queries[q], i, *stored)
                s, i = s[s >= threshold], i[s >= threshold]
            order = np.lexsort((i, -s))
            out.append((s[order], i[order]))
        return out

    def _params(self, allowed: np.ndarray | None) -> tuple[Any, Any]:
        sel = None if allowed is None else faiss.IDSelectorBatch(_as_ids(allowed))
        if self.kind == "flat":
            params: Any = faiss.SearchParameters()
        else:
            selective = allowed is not None and len(allowed) < EXACT_FILTER_FRACTION * len(self)
            # a selective filter probes every list: exhaustive, hence exact, over allowed ids
            params = ivf_params(self._index.nlist if selective else self.nprobe)
        if sel is not None:
            params.sel = sel
        return sel, params

    def _flat_contents(self) -> tuple[np.ndarray, np.ndarray]:
        flat: Any = faiss.downcast_index(self._index.index)
        vectors = faiss.vector_to_array(flat.codes).view(np.float32).reshape(-1, self.dim)
        return faiss.vector_to_array(self._index.id_map).astype(np.int64), vectors

    def _become_ivf(self, batches: Batches, n: int) -> None:
        """Train an IVF index on ``batches``, tune nprobe for `TARGET_RECALL`, swap it in."""
        log.info("vector index: %d vectors > ann_threshold %d, building IVF", n, self.ann_threshold)
        tuned = build_ivf(batches, n, self.dim, candidates(K) if self.exact else K)
        self._index, self.kind, self.nlist = tuned.index, "ivf", int(tuned.index.nlist)
        self.nprobe, self.recall_at_10 = tuned.nprobe, tuned.recall_at_10

    def to_bytes(self) -> bytes:
        with self._lock:
            return bytes(faiss.serialize_index(self._index))

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        dim: int,
        ann_threshold: int,
        nprobe: int,
        exact: ExactVectors | None = None,
    ) -> VectorIndex:
        """Rebuild from `to_bytes` output; raises `VectorIndexError` if it is not one."""
        try:
            raw = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))  # already downcast
        except RuntimeError as exc:
            raise VectorIndexError(f"not a readable FAISS index ({str(exc)[:200]})") from exc
        if raw.d != dim:
            raise VectorIndexError(f"index dimension {raw.d} != embedding dimension {dim}")
        index = cls(dim, ann_threshold, exact)
        if isinstance(raw, faiss.IndexIVF):  # IVF-SQ8; IVF-Flat saved by older versions
            index._index, index.kind, index.nprobe = raw, "ivf", max(1, nprobe)
            index.nlist = int(raw.nlist)
        elif isinstance(raw, faiss.IndexIDMap2):
            index._index = raw
        else:
            raise VectorIndexError(f"unexpected FAISS index type {type(raw).__name__}")
        return index


def _exact_scores(
    query: np.ndarray, row: np.ndarray, have: np.ndarray, vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(ids, exact cosines) of the candidates in ``row`` that have a stored vector;
    ``have`` (sorted) and ``vectors`` come from `VectorIndex._fetch`."""
    pos = np.searchsorted(have, row)
    known = pos < len(have)
    known[known] = have[pos[known]] == row[known]
    return row[known], (vectors[pos[known]] @ query).astype(np.float32)


def _as_ids(ids: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))


def _check_matrix(vectors: np.ndarray, dim: int | None) -> np.ndarray:
    mat = np.asarray(vectors, dtype=np.float32)
    if mat.ndim == 1:
        mat = mat.reshape(1, -1)
    if mat.ndim != 2 or (dim is not None and mat.shape[1] != dim and len(mat)):
        raise VectorIndexError(
            f"vectors of shape {mat.shape} do not match the index dimension {dim}: the engine "
            "bundle changed; re-index (the index is rebuilt for the active bundle)"
        )
    return np.ascontiguousarray(mat)


class EmbeddingSource(Protocol):
    """What `IndexStore` rebuilds from: `edge_app.library.store.Library` satisfies it."""

    def index_generation(self) -> int: ...
    def count_embeddings(self, bundle_id: str) -> int: ...
    def iter_embeddings(self, bundle_id: str, batch_size: int = ...) -> Any: ...


class IndexStore:
    """The live `VectorIndex` plus its crash-safe file in ``index_dir``.

    Files: ``vectors-<generation>.faiss`` and ``index.json`` (generation, bundle id,
    count, sha256 of the FAISS file). ``index.json`` is renamed into place last, so it is
    the commit point: a crash at any moment leaves either the old or the new pair.
    """

    def __init__(
        self, index_dir: Path, ann_threshold: int = 50_000, exact: ExactVectors | None = None
    ) -> None:
        self.index_dir = Path(index_dir)
        self.ann_threshold = ann_threshold
        self.exact = exact
        self.bundle_id: str | None = None
        self.generation: int | None = None  # library generation of the last open / save
        self._index: VectorIndex | None = None

    def current(self) -> VectorIndex:
        """The live index (shared by the indexer and search)."""
        if self._index is None:
            raise VectorIndexError("the vector index is not open yet: the daemon is still starting")
        return self._index

    def open(self, library: EmbeddingSource, bundle_id: str, dim: int) -> VectorIndex:
        """Load the saved index if it is current, else rebuild from SQLite and save it."""
        generation = library.index_generation()
        stored = library.count_embeddings(bundle_id)  # a full COUNT: once (1M rows at 1M photos)
        try:
            index = self.load(bundle_id, generation, dim)
            if len(index) != stored:
                raise VectorIndexError(
                    f"index holds {len(index)} vectors but the library has {stored} for {bundle_id}"
                )
        except VectorIndexError as exc:
            log.log(
                _rebuild_level(stored),
                "vector index in %s unusable (%s): rebuilding from SQLite",
                self.index_dir,
                exc,
            )
            index = self.rebuild(library, bundle_id, dim)
        self._index, self.bundle_id, self.generation = index, bundle_id, generation
        return index

    def refresh(self, library: EmbeddingSource, bundle_id: str, dim: int) -> bool:
        """Re-open when another process changed the stored embeddings since our last save
        (``edge-app import-pack`` / ``index`` run beside the daemon); True if it did."""
        if self.bundle_id == bundle_id and library.index_generation() == self.generation:
            return False
        self.open(library, bundle_id, dim)
        return True

    def rebuild(self, library: EmbeddingSource, bundle_id: str, dim: int) -> VectorIndex:
        """A fresh index from every stored embedding of ``bundle_id``; saved before return."""
        generation = library.index_generation()
        n = library.count_embeddings(bundle_id)
        index = VectorIndex.build_from(
            lambda: library.iter_embeddings(bundle_id), n, dim, self.ann_threshold, self.exact
        )
        log.log(
            _rebuild_level(len(index)),
            "vector index rebuilt: %d vectors of %s, generation %d",
            len(index),
            bundle_id,
            generation,
        )
        self.save(index, generation, bundle_id)
        self._index, self.bundle_id = index, bundle_id
        return index

    def save(self, index: VectorIndex, generation: int, bundle_id: str) -> None:
        """Write atomically: temp file, fsync, rename, fsync dir; ``index.json`` last."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        data = index.to_bytes()
        name = f"vectors-{generation}.faiss"
        meta = {
            "format": FORMAT_VERSION, "generation": generation, "bundle_id": bundle_id,
            "dim": index.dim, "count": len(index), "kind": index.kind, "nprobe": index.nprobe,
            "file": name, "sha256": hashlib.sha256(data).hexdigest(),
        }  # fmt: skip
        try:
            _atomic_write(self.index_dir / name, data)
            _atomic_write(self.index_dir / META_NAME, json.dumps(meta, indent=2).encode())
            _fsync_dir(self.index_dir)
        except OSError as exc:
            raise VectorIndexError(
                f"cannot save the vector index in {self.index_dir}: {exc} (disk full?)"
            ) from exc
        for old in self.index_dir.glob("vectors-*.faiss"):
            if old.name != name:
                old.unlink(missing_ok=True)
        self.generation = generation

    def save_current(self, generation: int) -> None:
        """Save the live index as of the library's ``generation`` (the indexer calls this)."""
        if self.bundle_id is None:
            raise VectorIndexError("no vector index is open: call IndexStore.open() first")
        self.save(self.current(), generation, self.bundle_id)

    def load(self, bundle_id: str, generation: int, dim: int) -> VectorIndex:
        """The saved index, or `VectorIndexError` saying why it cannot be trusted."""
        meta = self._read_meta()
        if meta.get("format") != FORMAT_VERSION or meta.get("bundle_id") != bundle_id:
            raise VectorIndexError(
                f"saved for bundle {meta.get('bundle_id')!r}, format {meta.get('format')!r}"
            )
        if meta.get("generation") != generation:
            raise VectorIndexError(
                f"saved at generation {meta.get('generation')}, library is at {generation}"
            )
        path = self.index_dir / str(meta.get("file"))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise VectorIndexError(f"cannot read {path}: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            raise VectorIndexError(f"{path.name} is damaged (checksum mismatch)")
        nprobe = int(meta.get("nprobe") or 1)
        index = VectorIndex.from_bytes(data, dim, self.ann_threshold, nprobe, self.exact)
        log.info(
            "vector index loaded: %d vectors (%s), generation %d",
            len(index),
            index.kind,
            generation,
        )
        return index

    def _read_meta(self) -> dict[str, Any]:
        path = self.index_dir / META_NAME
        if not path.is_file():
            raise VectorIndexError(f"no saved index ({path} missing)")
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VectorIndexError(f"{path} is damaged ({exc})") from exc
        if not isinstance(meta, dict):
            raise VectorIndexError(f"{path} is damaged (not a JSON object)")
        return meta


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rebuild_level(n_vectors: int) -> int:
    """A rebuild with nothing to lose (a new, empty library) is normal: INFO, not WARNING."""
    return logging.INFO if n_vectors == 0 else logging.WARNING
