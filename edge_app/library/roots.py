"""Photo-root SQL of the library: folders indexed in place, and which are online.

Why a key prefix: a photo of an extra root is stored under the key
``.roots/<root id>/<path inside the root>`` in ``photos.rel_path`` (the managed library,
root 1, keeps plain keys). The managed-library scanner never yields a hidden folder, so
the namespaces cannot collide, ``rel_path`` stays the one UNIQUE key every existing
statement relies on, and ``photos.root_id`` is a generated column derived from it
(schema v3), so no write path has to learn about roots.

Offline roots keep their rows and embeddings; `OFFLINE_SQL` keeps them out of the
embeddings the vector index is built from and out of the gallery/filter queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_app.errors import LibraryError, NotFoundError
from edge_app.library.connection import SqliteStore
from edge_app.library.records import KnownFile, utc_now

LIBRARY_ROOT_ID = 1
KEY_PREFIX = ".roots/"
ROOT_SOURCES = ("library", "config", "user")
#: SQL condition (on ``photos``) true for photos whose root is online.
OFFLINE_SQL = "root_id NOT IN (SELECT id FROM roots WHERE online = 0)"


@dataclass(frozen=True)
class Root:
    """One row of ``roots``; ``path`` is None for the managed library (follows settings)."""

    id: int
    path: Path | None
    source: str
    online: bool
    last_scan_at: str | None
    last_error: str | None
    added_at: str
    photos: int = 0

    @property
    def is_library(self) -> bool:
        return self.id == LIBRARY_ROOT_ID


def key_prefix(root_id: int) -> str:
    """The ``rel_path`` prefix of a root's photos ("" for the managed library)."""
    return "" if root_id == LIBRARY_ROOT_ID else f"{KEY_PREFIX}{root_id}/"


def to_key(root_id: int, rel: str) -> str:
    """Library key of ``rel`` (POSIX, relative to the root); "" means the root itself."""
    prefix = key_prefix(root_id)
    return (prefix + rel) if rel else prefix.rstrip("/")


def split_key(key: str) -> tuple[int, str]:
    """(root id, path inside the root) of a library key."""
    if not key.startswith(KEY_PREFIX):
        return LIBRARY_ROOT_ID, key
    number, _, rest = key[len(KEY_PREFIX) :].partition("/")
    if not number.isdigit():
        raise LibraryError(f"damaged photo key {key!r}: expected .roots/<id>/<path>")
    return int(number), rest


def display_path(key: str, names: dict[int, str]) -> str:
    """A library key or folder as people read it: ``.roots/3/2019/a.jpg`` -> ``NAS/2019/a.jpg``
    (``names`` from `RootLog.root_names`); managed-library keys are unchanged."""
    if not key.startswith(KEY_PREFIX):
        return key
    try:
        root_id, rest = split_key(key)
    except LibraryError:
        return key
    name = names.get(root_id, f"folder {root_id}")
    return f"{name}/{rest}" if rest else name


def key_of_display(folder: str, names: dict[int, str]) -> str:
    """The inverse of `display_path` for a folder filter: ``NAS/2019`` -> ``.roots/3/2019``
    (a key, or a managed-library folder, is returned unchanged)."""
    first, _, rest = folder.partition("/")
    ids = [i for i, name in names.items() if name == first]
    if folder.startswith(KEY_PREFIX) or len(ids) != 1:
        return folder
    return to_key(ids[0], rest)


class RootLog(SqliteStore):
    """The ``roots`` table and per-root photo queries (part of `Library`)."""

    def root_names(self) -> dict[int, str]:
        """Root id -> the name people know it by: its folder's name ("NAS"), with the id
        added where two roots share a name. The managed library has none (plain keys)."""
        rows = self._rows("SELECT id, path FROM roots WHERE path IS NOT NULL ORDER BY id")
        names = {int(r["id"]): Path(r["path"]).name or str(r["path"]) for r in rows}
        counts = {n: list(names.values()).count(n) for n in names.values()}
        return {i: n if counts[n] == 1 else f"{n} ({i})" for i, n in names.items()}

    def list_roots(self) -> list[Root]:
        """Every root with its photo count (not the trashed ones), the managed library
        first. The counts are kept by trigger (`counters`): the watcher lists the roots
        every second, at the same cost for 10 photos or 1M."""
        rows = self._rows(
            "SELECT r.*, c.n AS photos FROM roots r "
            "LEFT JOIN library_counts c ON c.name = 'root:' || r.id ORDER BY r.id"
        )
        if missing := [r["id"] for r in rows if r["photos"] is None]:
            raise LibraryError(f"{self.path}: no photo count for roots {missing}: restore a backup")
        return [_root(r, int(r["photos"])) for r in rows]

    def get_root(self, root_id: int) -> Root:
        for root in self.list_roots():
            if root.id == root_id:
                return root
        raise NotFoundError(f"photo root {root_id} does not exist (see `edge-app roots list`)")

    def add_root(self, path: Path, source: str) -> Root:
        """Register a folder (already validated by `edge_app.indexing.roots`)."""
        if source not in ROOT_SOURCES[1:]:
            raise LibraryError(f"root source must be config or user, got {source!r}")
        with self.transaction():
            row = self._exec(
                "INSERT INTO roots (path, source, added_at) VALUES (?, ?, ?) RETURNING id",
                [str(path), source, utc_now()],
            ).fetchone()
        return self.get_root(int(row[0]))

    def set_root_source(self, root_id: int, source: str) -> None:
        with self.transaction():
            self._exec("UPDATE roots SET source = ? WHERE id = ?", [source, root_id])

    def remove_root(self, root_id: int) -> list[int]:
        """Forget a root and its photos; returns the deleted photo ids (for FAISS)."""
        if root_id == LIBRARY_ROOT_ID:
            raise LibraryError("the managed library is always a root and cannot be removed")
        with self.transaction():
            ids = self.root_photo_ids(root_id)
            self._exec("DELETE FROM photos WHERE root_id = ?", [root_id])
            if self._exec("DELETE FROM roots WHERE id = ?", [root_id]).rowcount == 0:
                raise NotFoundError(f"photo root {root_id} does not exist")
            self._bump_generation()
        return ids

    def set_root_online(self, root_id: int, online: bool, error: str | None = None) -> bool:
        """Record presence; returns True when it changed (the vector index must follow).

        A change bumps the index generation: offline photos leave the vector index.
        """
        with self.transaction():
            cur = self._exec(
                "UPDATE roots SET online = ?, last_error = ? WHERE id = ? AND online != ?",
                [int(online), error, root_id, int(online)],
            )
            changed = cur.rowcount > 0
            if not changed:
                self._exec("UPDATE roots SET last_error = ? WHERE id = ?", [error, root_id])
            else:
                self._bump_generation()
        return changed

    def mark_root_scanned(self, root_id: int) -> None:
        with self.transaction():
            self._exec("UPDATE roots SET last_scan_at = ? WHERE id = ?", [utc_now(), root_id])

    def root_photo_ids(self, root_id: int, bundle_id: str | None = None) -> list[int]:
        """Ids of a root's photos; with ``bundle_id``, only those embedded by it."""
        sql = "SELECT id FROM photos WHERE root_id = ?"
        params: list[Any] = [root_id]
        if bundle_id is not None:
            sql += " AND status = 'indexed' AND embedding IS NOT NULL AND bundle_id = ?"
            params.append(bundle_id)
        return [int(r["id"]) for r in self._rows(sql + " ORDER BY id", params)]

    def set_mtimes(self, pairs: list[tuple[int, int]]) -> None:
        """(photo id, mtime_ns) for files whose content hash proved them unchanged."""
        if not pairs:
            return
        with self.transaction():
            for photo_id, mtime_ns in pairs:
                self._exec("UPDATE photos SET mtime_ns = ? WHERE id = ?", [mtime_ns, photo_id])

    def known_files_in_root(self, root_id: int) -> dict[str, KnownFile]:
        """`known_files` restricted to one root (what that root's scan is diffed against)."""
        sql = (
            "SELECT id, rel_path, size, mtime_ns, sha256, status, bundle_id FROM photos "
            "WHERE root_id = ? AND trashed_at IS NULL"
        )
        with self._lock:  # straight from the cursor: no list of row dicts next to the result
            return {row[1]: KnownFile(*row) for row in self._exec(sql, [root_id])}


def _root(row: dict[str, Any], photos: int) -> Root:
    path = row["path"]
    return Root(
        id=int(row["id"]),
        path=None if path is None else Path(path),
        source=row["source"],
        online=bool(row["online"]),
        last_scan_at=row["last_scan_at"],
        last_error=row["last_error"],
        added_at=row["added_at"],
        photos=photos,
    )
