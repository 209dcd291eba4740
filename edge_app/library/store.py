"""The SQLite photo library: the ONLY place in the daemon that speaks SQL.

Why one class: the indexer, the USB importer, search and the web app all need the same
rows; keeping every statement in `Library` (this file, plus its bases
`edge_app.library.import_log.ImportLog` and `edge_app.library.connection.SqliteStore`) means one
place decides transactions, locking and schema. Concurrency model (SQLite WAL):

* exactly one writer ``Library(db_path)`` per process, used by the indexer/importer
  threads (an internal lock serialises them; ``transaction()`` groups writes);
* any number of ``Library.open_reader(db_path)`` read-only connections for search and
  web threads; WAL lets them read the last committed state while a write is open.

Embeddings are stored as float16 blobs (half the disk of float32, far below CLIP's own
noise) and come back as re-normalised float32. ``meta.index_generation`` is bumped in the
same transaction as every change to the stored embeddings, so the FAISS file saved with
a generation number can be proved current (see `edge_app.search.index_store.IndexStore`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from edge_app.errors import LibraryError, NotFoundError
from edge_app.library.browse import SHOWN_AT_SQL, Browse
from edge_app.library.connection import GENERATION_KEY
from edge_app.library.face_store import PERSON_PHOTOS_SQL
from edge_app.library.import_log import ImportLog
from edge_app.library.ocr_store import OcrStore
from edge_app.library.pack_log import PackLog
from edge_app.library.people_store import PeopleStore
from edge_app.library.records import (
    PHOTO_STATUSES,
    PLACE_COLUMNS,
    ImportFile,
    ImportSession,
    KnownFile,
    Photo,
    PhotoFilter,
    PhotoMeta,
    camera_label,
    date_bound,
    from_blobs,
    id_chunks,
    iso_local,
    photo_from_row,
    to_blob,
    utc_now,
)
from edge_app.library.roots import RootLog
from edge_app.library.sessions import SessionLog
from edge_app.library.tags import TAGGED_PHOTOS_SQL, TagStore
from edge_app.library.trash_rows import VISIBLE_SQL, TrashRows

log = logging.getLogger(__name__)

__all__ = [
    "GENERATION_KEY",
    "ImportFile",
    "ImportSession",
    "KnownFile",
    "Library",
    "Photo",
    "PhotoFilter",
    "PhotoMeta",
]

_META_COLUMNS = [
    "rel_path", "sha256", "size", "mtime_ns", "width", "height", "taken_at",
    "camera_make", "camera_model", "gps_lat", "gps_lon", "orientation", "thumb_path",
    *PLACE_COLUMNS,
]  # fmt: skip
_WRITE_COLUMNS = [*_META_COLUMNS, "status", "error_reason", "embedding", "bundle_id", "indexed_at"]
_UPSERT_PHOTO = (
    f"INSERT INTO photos ({', '.join(_WRITE_COLUMNS)}, added_at) "
    f"VALUES ({', '.join(':' + c for c in _WRITE_COLUMNS)}, :added_at) "
    "ON CONFLICT(rel_path) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _WRITE_COLUMNS if c != "rel_path")
    + " RETURNING id"
)
_PHOTO_SELECT = (
    "SELECT id, rel_path, sha256, size, mtime_ns, width, height, taken_at, camera_make, "
    "camera_model, gps_lat, gps_lon, orientation, status, error_reason, bundle_id, "
    "thumb_path, indexed_at, added_at, embedding IS NOT NULL AS has_embedding, "
    f"{', '.join(PLACE_COLUMNS)} FROM photos"
)
_CAMERA_SQL = (
    "(camera_make = :camera OR camera_model = :camera OR "
    "TRIM(COALESCE(camera_make, '') || ' ' || COALESCE(camera_model, '')) = :camera)"
)


class Library(
    Browse, RootLog, TagStore, ImportLog, OcrStore, TrashRows, SessionLog, PackLog, PeopleStore
):
    """The photo library: photos, embeddings, meta and import sessions.

    ``Library(db_path)`` is the writer (creates/migrates the database);
    ``Library.open_reader(db_path)`` a read-only view. See the module docstring.
    """

    def record_photos(
        self, items: Sequence[tuple[PhotoMeta, np.ndarray]], bundle_id: str
    ) -> list[int]:
        """Insert/update indexed photos with their embeddings, in ONE transaction.

        Also bumps the index generation in that transaction. Returns the photo ids in
        the order of ``items``; the caller adds them to the vector index.
        """
        now = utc_now()
        with self.transaction():
            ids = [
                self._upsert(
                    meta,
                    status="indexed",
                    embedding=to_blob(vec, meta.rel_path),
                    bundle_id=bundle_id,
                    indexed_at=now,
                )
                for meta, vec in items
            ]
            self._bump_generation()
        return ids

    def record_photo(self, meta: PhotoMeta, embedding: np.ndarray, bundle_id: str) -> int:
        """One-photo form of `record_photos`."""
        return self.record_photos([(meta, embedding)], bundle_id)[0]

    def add_pending(self, metas: Sequence[PhotoMeta]) -> list[int]:
        """New or changed files waiting for embedding; any stale embedding is dropped."""
        with self.transaction():
            ids = [self._upsert(m, status="pending") for m in metas]
            self._bump_generation()
        return ids

    def mark_error(self, meta: PhotoMeta, reason: str) -> int:
        """Remember why a file cannot be indexed (shown in the UI, retried when it changes)."""
        with self.transaction():
            photo_id = self._upsert(meta, status="error", error_reason=reason)
            self._bump_generation()
        return photo_id

    def _upsert(self, meta: PhotoMeta, **row: Any) -> int:
        values: dict[str, Any] = {c: getattr(meta, c) for c in _META_COLUMNS}
        values["taken_at"] = iso_local(meta.taken_at)
        values.update(
            error_reason=None, embedding=None, bundle_id=None, indexed_at=None, added_at=utc_now()
        )
        values.update(row)
        return int(self._exec(_UPSERT_PHOTO, values).fetchone()[0])

    def delete_photos(self, ids: Sequence[int]) -> int:
        """Forget photos (file gone); returns how many rows were deleted."""
        deleted = 0
        with self.transaction():
            for chunk in id_chunks(list(ids)):
                marks = ",".join("?" * len(chunk))
                sql = f"DELETE FROM photos WHERE trashed_at IS NULL AND id IN ({marks})"
                deleted += self._exec(sql, chunk).rowcount  # a trashed row waits for "empty"
            self._bump_generation()
        return deleted

    def rename_photo(self, photo_id: int, new_rel_path: str, mtime_ns: int | None = None) -> None:
        """A moved file keeps its id and embedding (moves are detected by sha256)."""
        with self.transaction():
            if self.find_by_rel_path(new_rel_path) is not None:
                raise LibraryError(
                    f"cannot move photo {photo_id} to {new_rel_path!r}: that path is already "
                    "in the library; delete or rename the other entry first"
                )
            cur = self._exec(
                "UPDATE photos SET rel_path = ?, mtime_ns = COALESCE(?, mtime_ns) WHERE id = ?",
                [new_rel_path, mtime_ns, photo_id],
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"photo {photo_id} does not exist (was it deleted?)")

    def set_thumb_path(self, photo_id: int, thumb_path: str | None) -> None:
        with self.transaction():
            self._exec("UPDATE photos SET thumb_path = ? WHERE id = ?", [thumb_path, photo_id])

    # --------------------------------------------------------------- photo reads
    def get_photo(self, photo_id: int) -> Photo:
        rows = self._rows(f"{_PHOTO_SELECT} WHERE id = ? AND trashed_at IS NULL", [photo_id])
        if not rows:
            raise NotFoundError(
                f"photo {photo_id} does not exist (deleted, in the trash or never indexed)"
            )
        return photo_from_row(rows[0])

    def get_photos(self, ids: Sequence[int]) -> list[Photo]:
        """Photos in the order of ``ids``; ids that no longer exist (or are trashed) are left out."""
        found: dict[int, Photo] = {}
        for chunk in id_chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            sql = f"{_PHOTO_SELECT} WHERE trashed_at IS NULL AND id IN ({marks})"
            for row in self._rows(sql, chunk):
                found[int(row["id"])] = photo_from_row(row)
        return [found[i] for i in ids if i in found]

    def find_by_rel_path(self, rel_path: str) -> Photo | None:
        rows = self._rows(f"{_PHOTO_SELECT} WHERE rel_path = ?", [rel_path])
        return photo_from_row(rows[0]) if rows else None

    def find_by_sha256(self, sha256: str) -> list[Photo]:
        """All photos with this content (move detection reuses their embedding)."""
        return [
            photo_from_row(r)
            for r in self._rows(f"{_PHOTO_SELECT} WHERE sha256 = ? ORDER BY id", [sha256])
        ]

    def known_files(self) -> dict[str, KnownFile]:
        """rel_path -> size/mtime/sha256/status: what the scanner diffs the disk against."""
        rows = self._rows(
            "SELECT id, rel_path, size, mtime_ns, sha256, status, bundle_id FROM photos "
            "WHERE trashed_at IS NULL"
        )
        return {r["rel_path"]: KnownFile(**r) for r in rows}

    def photos_needing_embedding(self, bundle_id: str, limit: int | None = None) -> list[Photo]:
        """Pending photos, and indexed ones embedded by another bundle (bundle switch).

        Errors are not retried here: they come back as pending when the file changes.
        """
        sql = (
            f"{_PHOTO_SELECT} WHERE trashed_at IS NULL AND (status = 'pending' OR "
            "(status = 'indexed' AND (bundle_id IS NOT ? OR embedding IS NULL))) ORDER BY id"
        )
        params: list[Any] = [bundle_id]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [photo_from_row(r) for r in self._rows(sql, params)]

    def get_embedding(self, photo_id: int) -> np.ndarray | None:
        """The photo's float32 embedding, None if it has none (pending/error)."""
        rows = self._rows("SELECT embedding FROM photos WHERE id = ?", [photo_id])
        if not rows:
            raise NotFoundError(f"photo {photo_id} does not exist (deleted or never indexed)")
        blob = rows[0]["embedding"]
        return None if blob is None else from_blobs([blob])[0]

    def get_embeddings(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64, float32 matrix) for the given photos that have an embedding."""
        out_ids: list[int] = []
        blobs: list[bytes] = []
        for chunk in id_chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, embedding FROM photos WHERE embedding IS NOT NULL AND id IN ({marks}) ORDER BY id"
            for row in self._rows(sql, chunk):
                out_ids.append(int(row["id"]))
                blobs.append(row["embedding"])
        return np.asarray(out_ids, dtype=np.int64), from_blobs(blobs)

    def iter_embeddings(
        self, bundle_id: str, batch_size: int = 4096
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, float32 matrix) batches of every indexed photo embedded by ``bundle_id``."""
        last = -1
        while True:
            rows = self._rows(
                "SELECT id, embedding FROM photos WHERE status = 'indexed' AND bundle_id = ? "
                f"AND embedding IS NOT NULL AND {VISIBLE_SQL} AND id > ? ORDER BY id LIMIT ?",
                [bundle_id, last, batch_size],
            )
            if not rows:
                return
            last = int(rows[-1]["id"])
            yield (
                np.asarray([r["id"] for r in rows], dtype=np.int64),
                from_blobs([r["embedding"] for r in rows]),
            )

    def count_embeddings(self, bundle_id: str) -> int:
        rows = self._rows(
            "SELECT COUNT(*) AS n FROM photos WHERE status = 'indexed' AND bundle_id = ? "
            f"AND embedding IS NOT NULL AND {VISIBLE_SQL}",
            [bundle_id],
        )
        return int(rows[0]["n"])

    def counts_by_status(self) -> dict[str, int]:
        """{'indexed': n, 'pending': n, 'error': n} (every status present, maybe 0)."""
        counts = self.library_counts()  # kept by trigger: no scan (edge_app.library.counters)
        return {s: counts[f"photos:{s}"] for s in PHOTO_STATUSES}  # the trash not included

    def list_errors(self, limit: int = 100, offset: int = 0) -> list[Photo]:
        sql = f"{_PHOTO_SELECT} WHERE status = 'error' ORDER BY rel_path LIMIT ? OFFSET ?"
        return [photo_from_row(r) for r in self._rows(sql, [limit, offset])]

    def filter_ids(self, flt: PhotoFilter) -> np.ndarray:
        """Sorted int64 ids of indexed photos matching ``flt`` (the search allow-list)."""
        where, params = _where(flt)
        rows = self._rows(
            f"SELECT id FROM photos WHERE status = 'indexed' AND {where} ORDER BY id", params
        )
        return np.asarray([r["id"] for r in rows], dtype=np.int64)

    def list_photos(
        self, flt: PhotoFilter | None = None, limit: int = 50, offset: int = 0
    ) -> list[Photo]:
        """Browse indexed photos, newest first (undated last), for the gallery view."""
        where, params = _where(flt or PhotoFilter())
        sql = (
            f"{_PHOTO_SELECT} WHERE status = 'indexed' AND {where} "
            "ORDER BY taken_at IS NULL, taken_at DESC, id DESC LIMIT :limit OFFSET :offset"
        )
        return [
            photo_from_row(r) for r in self._rows(sql, {**params, "limit": limit, "offset": offset})
        ]

    def count_photos(self, flt: PhotoFilter | None = None) -> int:
        where, params = _where(flt or PhotoFilter())
        rows = self._rows(
            f"SELECT COUNT(*) AS n FROM photos WHERE status = 'indexed' AND {where}", params
        )
        return int(rows[0]["n"])

    def _filter_sql(self, flt: PhotoFilter) -> tuple[str, dict[str, Any]]:
        return _where(flt)

    def cameras(self) -> list[str]:
        """Distinct camera labels (for the filter drop-down), sorted."""
        rows = self._rows(
            "SELECT DISTINCT camera_make, camera_model FROM photos WHERE status = 'indexed' "
            f"AND {VISIBLE_SQL}"
        )
        labels = {camera_label(r["camera_make"], r["camera_model"]) for r in rows}
        return sorted(label for label in labels if label)


def _where(flt: PhotoFilter) -> tuple[str, dict[str, Any]]:
    """SQL condition + named params for a `PhotoFilter` ("1" when empty)."""
    parts: list[str] = [VISIBLE_SQL]  # trashed photos, those of an unplugged root: not shown
    params: dict[str, Any] = {}
    if flt.taken_from is not None:
        parts.append(f"{SHOWN_AT_SQL} >= :taken_from")  # taken date, else file date
        params["taken_from"] = date_bound(flt.taken_from)
    if flt.taken_to is not None:
        if isinstance(flt.taken_to, datetime):
            parts.append(f"{SHOWN_AT_SQL} <= :taken_to")
            params["taken_to"] = date_bound(flt.taken_to)
        else:  # a whole day: strictly before the next day
            parts.append(f"{SHOWN_AT_SQL} < :taken_to")
            params["taken_to"] = (flt.taken_to + timedelta(days=1)).isoformat()
    if flt.folder:
        folder = flt.folder.strip("/") + "/"
        parts.append("substr(rel_path, 1, :folder_len) = :folder")
        params.update(folder=folder, folder_len=len(folder))
    if flt.camera:
        parts.append(_CAMERA_SQL)
        params["camera"] = flt.camera
    if flt.ids is not None:
        parts.append("id IN (SELECT value FROM json_each(:ids))")
        params["ids"] = json.dumps(list(flt.ids))
    if flt.has_gps is not None:
        gps = "gps_lat IS NOT NULL AND gps_lon IS NOT NULL"
        parts.append(f"({gps})" if flt.has_gps else f"NOT ({gps})")
    for i, name in enumerate(flt.people):  # see edge_app.library.face_store
        parts.append(f"id IN ({PERSON_PHOTOS_SQL.format(param=f'person{i}')})")
        params[f"person{i}"] = name
    for i, tag in enumerate(flt.tags):  # see edge_app.library.tags
        parts.append(f"id IN ({TAGGED_PHOTOS_SQL.format(param=f'tag{i}')})")
        params[f"tag{i}"] = tag
    return " AND ".join(parts), params
