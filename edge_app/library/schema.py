"""Schema of the SQLite photo library as an ordered list of migrations.

Why step-by-step migrations: appliances in the field are updated in place and their
library must never be re-created (it holds hours of embeddings). Each function moves the
schema from version ``i`` to ``i + 1``; ``migrate`` runs the missing ones, each inside its
own ``BEGIN IMMEDIATE`` transaction together with the ``schema_version`` bump, so a crash
mid-upgrade leaves a consistent older version. A database written by a newer release is
refused (`SchemaTooNewError`) rather than silently misread.

Never edit a released migration: append a new one.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence

from edge_app.errors import LibraryError, SchemaTooNewError
from edge_app.library import upgrades

log = logging.getLogger(__name__)

Migration = Callable[[sqlite3.Connection], None]


def _v1_photos_and_meta(conn: sqlite3.Connection) -> None:
    """Photos with their float16 embedding, and a key/value meta table."""
    conn.execute(
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE photos (
            id INTEGER PRIMARY KEY,
            rel_path TEXT NOT NULL UNIQUE,
            sha256 TEXT,
            size INTEGER,
            mtime_ns INTEGER,
            width INTEGER,
            height INTEGER,
            taken_at TEXT,
            camera_make TEXT,
            camera_model TEXT,
            gps_lat REAL,
            gps_lon REAL,
            orientation INTEGER,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('indexed', 'pending', 'error')),
            error_reason TEXT,
            embedding BLOB,
            bundle_id TEXT,
            thumb_path TEXT,
            indexed_at TEXT,
            added_at TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX idx_photos_sha256 ON photos(sha256)")
    conn.execute("CREATE INDEX idx_photos_status ON photos(status)")


def _v2_imports_and_filters(conn: sqlite3.Connection) -> None:
    """Resumable USB import sessions, and indexes for the search filters."""
    conn.execute(
        """CREATE TABLE import_sessions (
            id INTEGER PRIMARY KEY,
            source_key TEXT NOT NULL,
            label TEXT,
            dest_dir TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'running'
                CHECK (state IN ('running', 'done', 'interrupted', 'failed')),
            reason TEXT,
            found INTEGER NOT NULL DEFAULT 0,
            copied INTEGER NOT NULL DEFAULT 0,
            skipped_duplicate INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            bytes_copied INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            finished_at TEXT
        )"""
    )
    conn.execute("CREATE INDEX idx_import_sessions_source ON import_sessions(source_key)")
    conn.execute(
        """CREATE TABLE import_files (
            session_id INTEGER NOT NULL REFERENCES import_sessions(id) ON DELETE CASCADE,
            source_rel_path TEXT NOT NULL,
            sha256 TEXT,
            size INTEGER,
            dest_rel_path TEXT,
            state TEXT NOT NULL CHECK (state IN ('verified', 'failed', 'skipped')),
            reason TEXT,
            PRIMARY KEY (session_id, source_rel_path)
        )"""
    )
    conn.execute("CREATE INDEX idx_import_files_sha256 ON import_files(sha256)")
    conn.execute("CREATE INDEX idx_photos_taken_at ON photos(taken_at)")
    conn.execute("CREATE INDEX idx_photos_bundle ON photos(bundle_id, status)")


def _v3_photo_roots(conn: sqlite3.Connection) -> None:
    """Photo roots indexed in place; ``photos.root_id`` is derived from the rel_path key.

    Photos of an extra root are keyed ``.roots/<id>/<path in root>`` (a hidden folder
    name the managed-library scanner never produces), so ``photos.rel_path`` stays the one
    UNIQUE key: dropping that v1 constraint would mean rebuilding ``photos``, and with
    foreign keys on, a DROP TABLE cascades into every table that references it. Existing
    rows keep their key and belong to root 1, the managed library.
    """
    conn.execute(
        """CREATE TABLE roots (
            id INTEGER PRIMARY KEY,
            path TEXT UNIQUE,
            source TEXT NOT NULL CHECK (source IN ('library', 'config', 'user')),
            online INTEGER NOT NULL DEFAULT 1,
            last_scan_at TEXT,
            last_error TEXT,
            added_at TEXT NOT NULL
        )"""
    )
    conn.execute(
        "INSERT INTO roots (id, path, source, added_at) "
        "VALUES (1, NULL, 'library', strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'))"
    )
    conn.execute(
        "ALTER TABLE photos ADD COLUMN root_id INTEGER GENERATED ALWAYS AS ("
        "CASE WHEN substr(rel_path, 1, 7) = '.roots/' "
        "THEN CAST(substr(rel_path, 8) AS INTEGER) ELSE 1 END) VIRTUAL"
    )
    conn.execute("CREATE INDEX idx_photos_root ON photos(root_id)")


_OCR_SCHEMA = (  # the SQL is here, not in ocr_store.py: ocr_store imports the connection
    """CREATE TABLE ocr_status (
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        sha256 TEXT,
        state TEXT NOT NULL CHECK (state IN ('done', 'no_text', 'failed')),
        reason TEXT,
        engine TEXT,
        lines INTEGER NOT NULL DEFAULT 0,
        seconds REAL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX idx_ocr_status_state ON ocr_status(state)",
    """CREATE TABLE ocr_lines (
        id INTEGER PRIMARY KEY,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        line_no INTEGER NOT NULL,
        text TEXT NOT NULL,
        score REAL NOT NULL,
        box TEXT NOT NULL,
        UNIQUE (photo_id, line_no)
    )""",
    *upgrades.ocr_fts_over("text"),
)


def _v4_ocr_text(conn: sqlite3.Connection) -> None:
    """Recognised text (OCR) per photo: status, lines with boxes, FTS5 trigram index."""
    for statement in _OCR_SCHEMA:
        conn.execute(statement)


def _v5_label_sets_and_tags(conn: sqlite3.Connection) -> None:
    """Zero-shot tags: label sets, labels (with cached vectors), examples, photo tags."""
    conn.execute(
        """CREATE TABLE label_sets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            description TEXT NOT NULL DEFAULT '',
            builtin TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            tagged_version INTEGER,
            tagged_generation INTEGER,
            tagged_bundle TEXT,
            tagged_at TEXT,
            created_at TEXT NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE labels (
            id INTEGER PRIMARY KEY,
            set_id INTEGER NOT NULL REFERENCES label_sets(id) ON DELETE CASCADE,
            name TEXT NOT NULL COLLATE NOCASE,
            prompts TEXT NOT NULL DEFAULT '[]',
            threshold REAL,
            pooling TEXT NOT NULL DEFAULT 'mean' CHECK (pooling IN ('mean', 'any')),
            vector BLOB,
            dim INTEGER,
            vector_bundle TEXT,
            center REAL,
            scale REAL,
            UNIQUE (set_id, name)
        )"""
    )
    conn.execute("CREATE INDEX idx_labels_name ON labels(name)")
    conn.execute(
        """CREATE TABLE label_examples (
            label_id INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            PRIMARY KEY (label_id, photo_id)
        )"""
    )
    conn.execute(
        """CREATE TABLE photo_tags (
            photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            label_id INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
            score REAL NOT NULL,
            cosine REAL NOT NULL,
            PRIMARY KEY (photo_id, label_id)
        )"""
    )
    conn.execute("CREATE INDEX idx_photo_tags_label ON photo_tags(label_id, score)")


MIGRATIONS: tuple[Migration, ...] = (
    _v1_photos_and_meta,
    _v2_imports_and_filters,
    _v3_photo_roots,
    _v4_ocr_text,
    _v5_label_sets_and_tags,
    upgrades.v6_trash_and_places,
    upgrades.v7_ocr_folded_text,
    upgrades.v8_web_sessions,
    upgrades.v9_pack_imports,
    upgrades.v10_faces_and_people,
    upgrades.v11_ocr_vocab_and_counts,
    upgrades.v12_root_counts,
)
SCHEMA_VERSION = len(MIGRATIONS)


def read_version(conn: sqlite3.Connection) -> int:
    """The database's schema version; 0 for an empty (new) database."""
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row else 0
    except ValueError as exc:
        raise LibraryError(
            f"meta.schema_version is {row[0]!r}, not an integer: the database is damaged; "
            "restore it from a backup or move it aside to start a new library"
        ) from exc


def check_version(version: int, known: int, where: str) -> None:
    """Refuse a database from a newer release instead of misreading it."""
    if version > known:
        raise SchemaTooNewError(
            f"{where} has schema version {version} but this edge-photo-search only knows "
            f"up to {known}: update edge-photo-search, or restore a backup made by this version"
        )


def migrate(
    conn: sqlite3.Connection, where: str, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Bring the schema up to ``len(migrations)``; returns the final version."""
    version = read_version(conn)
    check_version(version, len(migrations), where)
    for step in range(version, len(migrations)):
        _apply(conn, migrations[step], step + 1, where)
    return len(migrations)


def _apply(conn: sqlite3.Connection, migration: Migration, target: int, where: str) -> None:
    log.info("migrating %s to schema version %d (%s)", where, target, migration.__doc__)
    conn.execute("BEGIN IMMEDIATE")
    try:
        migration(conn)
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(target),),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
