"""Writes a library pack on the driver: Parquet shards, thumbnails, photo copies, manifest.

Why on the driver: per-shard checksums, content-addressed thumbnails and the list of
failed photos need one writer; a photo's row plus thumbnail is ~20 kB, so one driver
keeps up with far more workers than there are (see docs/CLUSTER.md). Rows are buffered
only up to one Parquet row group; `pack.json` is written last, so a pack without it is
an unfinished one and the importer refuses it.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from build_engines.errors import BuildError
from edge_app.indexing.scanner import sha256_file
from edge_app.packs.format import (
    PHOTOS_DIR,
    SHARDS_DIR,
    PackManifest,
    ShardEntry,
    arrow_schema,
)  # fmt: skip
from edge_app.packs.verify import thumb_file

if TYPE_CHECKING:
    import pyarrow.parquet as pq

ROW_GROUP = 1024


class PackWriter:
    """Collects finished rows into shards of ``shard_rows``; `finish` writes the manifest."""

    def __init__(
        self, out: Path, dim: int, shard_rows: int = 50_000, photos_from: Path | None = None
    ) -> None:
        self.out, self.dim, self.shard_rows = out, dim, shard_rows
        self.photos_from = photos_from  # set: copy each photo into the pack
        self.schema = arrow_schema(dim)
        self.shards: list[ShardEntry] = []
        self.failures: list[tuple[str, str]] = []
        self.engines: set[str] = set()
        self.counts = {"photos": 0, "failed": 0, "ocr_text": 0, "thumbnails": 0}
        self._buffer: list[dict[str, Any]] = []
        self._file: pq.ParquetWriter | None = None
        self._rows_in_shard = 0
        self._path = out
        (out / SHARDS_DIR).mkdir(parents=True, exist_ok=True)

    def add(self, row: dict[str, Any]) -> None:
        meta = row["meta"]
        if row["error"]:
            self.failures.append((meta["rel_path"], row["error"]))
            self.counts["failed"] += 1
            return
        self.engines.add(row["engine"])
        thumb_sha = self._thumbnail(meta["sha256"], row["thumb"])
        if self.photos_from is not None:
            self._copy_photo(meta["rel_path"])
        self._buffer.append(
            {**meta, "embedding": np.asarray(row["embedding"], np.float32),
             "thumb_sha256": thumb_sha, "ocr_state": row["ocr_state"],
             "ocr_lines": row["ocr_lines"]}
        )  # fmt: skip
        self.counts["photos"] += 1
        self.counts["ocr_text"] += bool(row["ocr_lines"])
        if len(self._buffer) >= ROW_GROUP:
            self._flush()

    def _thumbnail(self, sha256: str, data: bytes) -> str | None:
        if not data:
            return None
        path = thumb_file(self.out, sha256)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self.counts["thumbnails"] += 1
        return hashlib.sha256(data).hexdigest()

    def _copy_photo(self, rel: str) -> None:
        assert self.photos_from is not None
        target = self.out / PHOTOS_DIR / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.photos_from / rel, target)  # keeps the mtime the row records

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        while self._buffer:
            if self._file is None:
                self._path = self.out / SHARDS_DIR / f"part-{len(self.shards):05d}.parquet"
                self._file = pq.ParquetWriter(self._path, self.schema, compression="zstd")
            room = self.shard_rows - self._rows_in_shard
            part, self._buffer = self._buffer[:room], self._buffer[room:]
            self._file.write_table(pa.Table.from_pylist(part, schema=self.schema))
            self._rows_in_shard += len(part)
            if self._rows_in_shard >= self.shard_rows:
                self._close_shard()

    def _close_shard(self) -> None:
        if self._file is None:
            return
        self._file.close()
        rel = self._path.relative_to(self.out).as_posix()
        self.shards.append(ShardEntry(rel, self._rows_in_shard, sha256_file(self._path)))
        self._file, self._rows_in_shard = None, 0

    def finish(self, **fields: Any) -> PackManifest:
        """Close the last shard and write `pack.json` (atomically, last)."""
        self._flush()
        self._close_shard()
        if len(self.engines) > 1:
            raise BuildError(
                f"workers encoded with different artifacts {sorted(self.engines)}: give every "
                "worker the same backend with --prefer BACKEND:PRECISION and pack again"
            )
        backend, _, precision = (next(iter(self.engines)) if self.engines else ":").partition(":")
        manifest = PackManifest(
            image_backend=backend, image_precision=precision, dim=self.dim,
            shards=tuple(self.shards), counts=dict(self.counts),
            failures=tuple(sorted(self.failures)), **fields,
        )  # fmt: skip
        manifest.save(self.out)
        return manifest
