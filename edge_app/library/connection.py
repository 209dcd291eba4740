"""Connection plumbing shared by the library: WAL, busy timeout, migrations, transactions.

Why a base class: `edge_app.library.store.Library` is one class owning all SQL, but its photo
and import-session halves would not fit one readable file; both inherit this plumbing so
there is still exactly one connection, one lock and one transaction discipline.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlite_utils import Database

from edge_app.errors import LibraryError
from edge_app.library import schema
from edge_app.library.records import PendingPhoto
from engines.closing import Closing

log = logging.getLogger(__name__)

GENERATION_KEY = "index_generation"


class SqliteStore(Closing):
    """One SQLite connection (writer unless opened with `open_reader`) and its lock."""

    def __init__(self, db_path: Path, *, readonly: bool = False, busy_timeout_s: float = 10.0):
        self.path = Path(db_path)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._depth = 0
        conn = self._connect(busy_timeout_s)
        self.db = Database(conn, execute_plugins=False)
        try:
            self._prepare()
        except BaseException:
            conn.close()
            raise

    @classmethod
    def open_reader(cls, db_path: Path, busy_timeout_s: float = 10.0) -> Self:
        """A read-only connection for search/web threads; never blocks on the indexer."""
        return cls(db_path, readonly=True, busy_timeout_s=busy_timeout_s)

    def _connect(self, busy_timeout_s: float) -> sqlite3.Connection:
        try:
            if self.readonly:
                if not self.path.is_file():
                    raise LibraryError(
                        f"no library database at {self.path}: start the edge-app daemon "
                        "(or run `edge-app index`) once to create it"
                    )
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(self.path), check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise LibraryError(f"cannot open library database {self.path}: {exc}") from exc
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        return conn

    def _prepare(self) -> None:
        """WAL + foreign keys; the writer migrates, a reader insists on the current schema."""
        conn = self.db.conn
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if self.readonly:
                conn.execute("PRAGMA query_only = ON")
                self._check_reader_version()
                return
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise LibraryError(
                    f"{self.path}: SQLite refused WAL mode (got {mode!r}); keep the "
                    "database on a local filesystem (not NFS/FAT) so readers never block"
                )
            conn.execute("PRAGMA synchronous = NORMAL")
            schema.migrate(conn, str(self.path))
        except sqlite3.Error as exc:
            raise LibraryError(f"cannot prepare library database {self.path}: {exc}") from exc

    def _check_reader_version(self) -> None:
        version = schema.read_version(self.db.conn)
        schema.check_version(version, schema.SCHEMA_VERSION, str(self.path))
        if version < schema.SCHEMA_VERSION:
            raise LibraryError(
                f"{self.path} has schema version {version}, expected "
                f"{schema.SCHEMA_VERSION}: start the edge-app daemon once to upgrade it"
            )

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one ``BEGIN IMMEDIATE`` transaction (re-entrant)."""
        if self.readonly:
            raise LibraryError(f"{self.path} was opened read-only: writes go through the daemon")
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._begin()
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self.db.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._commit()

    def _begin(self) -> None:
        try:
            self.db.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise LibraryError(f"cannot start a write on {self.path}: {exc}") from exc

    def _commit(self) -> None:
        try:
            self.db.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self.db.conn.execute("ROLLBACK")
            raise LibraryError(
                f"commit to {self.path} failed ({exc}): check free disk space and permissions"
            ) from exc

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            try:
                return list(self.db.query(sql, params))
            except sqlite3.Error as exc:
                raise LibraryError(f"query on {self.path} failed: {exc}") from exc

    def _exec(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """Run one write statement; callers hold ``transaction()``."""
        try:
            return self.db.execute(sql, params)
        except sqlite3.Error as exc:
            raise LibraryError(f"write to {self.path} failed: {exc}") from exc

    # ------------------------------------------------- enrichment status tables
    def pending_photos(self, status_table: str, limit: int | None = None) -> list[PendingPhoto]:
        """Indexed photos without a row in ``status_table`` for their current content
        (a trashed photo waits: restored, it is read then)."""
        sql = (
            f"SELECT p.id, p.rel_path, p.sha256 FROM photos p LEFT JOIN {status_table} s "
            "ON s.photo_id = p.id WHERE p.status = 'indexed' AND p.trashed_at IS NULL AND "
            "(s.photo_id IS NULL OR s.sha256 IS NOT p.sha256) ORDER BY p.id"
        )
        params: list[Any] = []
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [PendingPhoto(r["id"], r["rel_path"], r["sha256"]) for r in self._rows(sql, params)]

    def library_counts(self) -> dict[str, int]:
        """The totals `counters` keeps by trigger (one small table: cheap at any size)."""
        return {str(r["name"]): int(r["n"]) for r in self._rows("SELECT * FROM library_counts")}

    def state_counts(self, status_table: str, states: Sequence[str]) -> dict[str, int]:
        """Per state for current content, and ``pending`` (indexed, no current state);
        trashed photos are not counted (nor read: `pending_photos`)."""
        counts = dict.fromkeys(states, 0)
        rows = self._rows(
            f"SELECT s.state, COUNT(*) AS n FROM {status_table} s JOIN photos p ON "
            "p.id = s.photo_id AND p.sha256 IS s.sha256 AND p.status = 'indexed' "
            "AND p.trashed_at IS NULL GROUP BY s.state"
        )
        counts.update({r["state"]: int(r["n"]) for r in rows})
        indexed = self._rows(
            "SELECT COUNT(*) AS n FROM photos WHERE status = 'indexed' AND trashed_at IS NULL"
        )
        counts["pending"] = int(indexed[0]["n"]) - sum(counts[s] for s in states)
        return counts

    # ---------------------------------------------------------------------- meta
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", [key])
        return str(rows[0]["value"]) if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._exec(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )

    def schema_version(self) -> int:
        return int(self.get_meta("schema_version", "0") or 0)

    def index_generation(self) -> int:
        """Counter of embedding changes; the saved FAISS index must carry the same number."""
        return int(self.get_meta(GENERATION_KEY, "0") or 0)

    def _bump_generation(self) -> int:
        row = self._exec(
            "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value",
            [GENERATION_KEY],
        ).fetchone()
        return int(row[0])
