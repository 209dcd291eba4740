"""The crash-safe on-disk store of the live `VectorIndex`.

`IndexStore` saves the index atomically with the library's ``index_generation``; at
start-up a missing, damaged or stale file is rebuilt from the embeddings in SQLite, and
the log says why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from edge_app.errors import VectorIndexError
from edge_app.search.vector_index import ExactVectors, VectorIndex

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
META_NAME = "index.json"


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

    def advance(self, before: int, after: int) -> None:
        """The live index already holds the one change that took the library from
        generation ``before`` to ``after`` (the trash moves rows and vectors together), so
        it stays current and the next index run does not rebuild it from SQLite (~9 s at
        100k photos). Nothing changes when it was not current at ``before``, or when more
        than one change happened meanwhile (another writer): `refresh` then re-opens it."""
        if self.generation == before and after == before + 1:
            self.generation = after

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
