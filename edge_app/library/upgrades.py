"""Schema migrations from version 6 on (`schema.MIGRATIONS` lists them in order).

Why a module of their own: `schema.py` holds the first five and the machinery; each
migration here keeps its SQL beside it and imports nothing that opens a connection, so
the schema never depends on a store (stores import the connection, which imports the
schema). Never edit a released migration: append a new one.
"""

from __future__ import annotations

import sqlite3

from edge_app.library import counters
from edge_app.library.near_words import vocabulary_of
from edge_app.library.records import PLACE_COLUMNS
from edge_app.library.text_fold import fold


def v6_trash_and_places(conn: sqlite3.Connection) -> None:
    """Trashed photos keep their row (id, tags, text) until the trash is emptied; the place
    name of a GPS position is stored with the photo (existing rows are filled in here)."""
    conn.execute("ALTER TABLE photos ADD COLUMN trashed_at TEXT")
    for column in PLACE_COLUMNS:
        conn.execute(f"ALTER TABLE photos ADD COLUMN {column} TEXT")
    rows = conn.execute(
        "SELECT id, gps_lat, gps_lon FROM photos WHERE gps_lat IS NOT NULL AND gps_lon IS NOT NULL"
    ).fetchall()
    if rows:
        from edge_app.search.places import place_names

        found = place_names([(float(lat), float(lon)) for _id, lat, lon in rows])
        conn.executemany(
            "UPDATE photos SET place_city = ?, place_region = ?, place_country = ? WHERE id = ?",
            [(*place, row[0]) for row, place in zip(rows, found, strict=True)],
        )


def ocr_fts_over(column: str) -> tuple[str, ...]:
    """The OCR trigram index over one column of `ocr_lines`, kept in step by triggers
    (schema v4 indexed `text`, v7 `folded`)."""
    return (
        f"""CREATE VIRTUAL TABLE ocr_fts USING fts5(
        {column}, content='ocr_lines', content_rowid='id', tokenize='trigram'
    )""",
        f"""CREATE TRIGGER ocr_lines_ai AFTER INSERT ON ocr_lines BEGIN
        INSERT INTO ocr_fts(rowid, {column}) VALUES (new.id, new.{column});
    END""",
        f"""CREATE TRIGGER ocr_lines_ad AFTER DELETE ON ocr_lines BEGIN
        INSERT INTO ocr_fts(ocr_fts, rowid, {column}) VALUES ('delete', old.id, old.{column});
    END""",
    )


# The trigram index covers `folded` (casefolded, accents removed, by `fold`), so "cafe"
# finds "CAFÉ" and non-ASCII case never blocks a match (SQLite < 3.45's trigram tokenizer
# cannot drop diacritics itself). The v4 index over `text` is replaced.
_OCR_FOLD_SCHEMA = (
    "ALTER TABLE ocr_lines ADD COLUMN folded TEXT NOT NULL DEFAULT ''",
    "DROP TRIGGER ocr_lines_ai",
    "DROP TRIGGER ocr_lines_ad",
    "DROP TABLE ocr_fts",
    *ocr_fts_over("folded"),
)


def v7_ocr_folded_text(conn: sqlite3.Connection) -> None:
    """OCR text index over case- and accent-folded lines ("cafe" finds "CAFÉ"): `folded`
    filled for every stored line and the index rebuilt from it."""
    for statement in _OCR_FOLD_SCHEMA:
        conn.execute(statement)
    rows = conn.execute("SELECT id, text FROM ocr_lines").fetchall()
    conn.executemany(
        "UPDATE ocr_lines SET folded = ? WHERE id = ?", [(fold(r[1]), r[0]) for r in rows]
    )
    conn.execute("INSERT INTO ocr_fts(ocr_fts) VALUES ('rebuild')")


def v8_web_sessions(conn: sqlite3.Connection) -> None:
    """Server-side web sessions (revocable logins) with their daily upload volume."""
    conn.execute(
        """CREATE TABLE web_sessions (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'guest')),
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            user_agent TEXT NOT NULL DEFAULT '',
            address TEXT NOT NULL DEFAULT '',
            upload_day TEXT,
            upload_bytes INTEGER NOT NULL DEFAULT 0
        )"""
    )


def v9_pack_imports(conn: sqlite3.Connection) -> None:
    """Library packs (photos indexed on a cluster): per-shard import progress."""
    conn.execute(
        """CREATE TABLE pack_imports (
            pack_id TEXT NOT NULL,
            shard TEXT NOT NULL,
            rows_done INTEGER NOT NULL DEFAULT 0,
            added INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (pack_id, shard)
        )"""
    )


_FACES_SCHEMA = (
    """CREATE TABLE people (
        id INTEGER PRIMARY KEY,
        name TEXT UNIQUE COLLATE NOCASE,
        centroid BLOB,
        faces INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE faces (
        id INTEGER PRIMARY KEY,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        face_no INTEGER NOT NULL,
        box TEXT NOT NULL,
        score REAL NOT NULL,
        quality REAL NOT NULL,
        embedding BLOB NOT NULL,
        person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
        pinned INTEGER NOT NULL DEFAULT 0,
        crop_path TEXT,
        UNIQUE (photo_id, face_no)
    )""",
    "CREATE INDEX idx_faces_person ON faces(person_id)",
    """CREATE TABLE face_status (
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        sha256 TEXT,
        state TEXT NOT NULL CHECK (state IN ('done', 'no_faces', 'failed')),
        reason TEXT,
        faces INTEGER NOT NULL DEFAULT 0,
        seconds REAL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE face_rejections (
        face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        PRIMARY KEY (face_id, person_id)
    )""",
    """CREATE TABLE forgotten_people (
        id INTEGER PRIMARY KEY,
        centroid BLOB NOT NULL,
        forgotten_at TEXT NOT NULL
    )""",
)


def v10_faces_and_people(conn: sqlite3.Connection) -> None:
    """People (opt-in): faces with box, quality, descriptor; people; per-photo face status."""
    for statement in _FACES_SCHEMA:
        conn.execute(statement)


# Vocabulary of the recognised words (folded, 4+ letters; `near_words.vocabulary_of`),
# each also stored reversed: the OCR-error-tolerant tier of a text: search finds the words
# one edit away from a typed word by two range scans, words that start with its first half
# and words that end with its second half (`near_words.candidate_ranges`). Append-only:
# a word no current line holds any more matches no line, so it costs nothing but a row.
_OCR_VOCAB_SCHEMA = (
    """CREATE TABLE ocr_vocab (
        word TEXT PRIMARY KEY,
        drow TEXT NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX idx_ocr_vocab_drow ON ocr_vocab(drow)",
)


def v11_ocr_vocab_and_counts(conn: sqlite3.Connection) -> None:
    """Vocabulary of the recognised words (OCR-error-tolerant text search) and library
    totals kept by triggers (`counters`), both filled from the stored rows."""
    for statement in _OCR_VOCAB_SCHEMA:
        conn.execute(statement)
    lines = conn.execute("SELECT folded FROM ocr_lines")
    while chunk := lines.fetchmany(10_000):  # bounded memory at millions of lines
        words = set().union(*(vocabulary_of(folded) for (folded,) in chunk))
        conn.executemany(
            "INSERT OR IGNORE INTO ocr_vocab (word, drow) VALUES (?, ?)",
            [(w, w[::-1]) for w in sorted(words)],
        )
    counters.install(conn)


def v12_root_counts(conn: sqlite3.Connection) -> None:
    """Photos per root kept by trigger (`counters`: ``root:<id>``), so listing the roots
    (the watcher does it every second) no longer counts every photo row."""
    counters.reinstall(conn)
