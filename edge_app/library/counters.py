"""Library totals kept in step by triggers: what `/api/status` shows on every 2-second poll.

Why: counting at poll time joined every OCR status row to its photo and counted every
photo, 1.6-2.6 s per poll at 1M photos (docs/benchmarks/ocr-v6-cpu/). The table
``library_counts`` holds one row per total, changed by triggers in the same transaction
as the rows they count (so it is never ahead of or behind the data, and kill -9 safe),
and reading it costs the same at 10 photos and at 1M. Definitions, identical to the
queries they replace (`reference_counts`, kept for the tests and the migration):

* ``photos:<status>``: photos not in the trash, per status (indexed, pending, error);
* ``indexed``: indexed photos, trash included (the base of "OCR pending");
* ``ocr:<state>``: OCR status rows for the photo's current content of indexed photos;
* ``tags``: stored tags; ``tagged_photos``: photos with at least one tag.
"""

from __future__ import annotations

import sqlite3

from edge_app.library.records import PHOTO_STATUSES

OCR_STATES = ("done", "no_text", "failed")
NAMES = (
    *(f"photos:{s}" for s in PHOTO_STATUSES), "indexed",
    *(f"ocr:{s}" for s in OCR_STATES), "tags", "tagged_photos",
)  # fmt: skip

# The OCR state a status row counts under when photo P (NEW or OLD) holds it, else NULL.
_OCR_OF = (
    "(SELECT 'ocr:' || s.state FROM ocr_status s WHERE s.photo_id = {p}.id "
    "AND {p}.status = 'indexed' AND s.sha256 IS {p}.sha256)"
)
_PHOTO_OF = (
    "(SELECT 1 FROM photos p WHERE p.id = {s}.photo_id AND p.status = 'indexed' "
    "AND p.sha256 IS {s}.sha256)"
)


def _add(delta: str, where: str) -> str:
    return f"UPDATE library_counts SET n = n {delta} 1 WHERE {where};"


TRIGGERS = (
    f"""CREATE TRIGGER counts_photos_ai AFTER INSERT ON photos BEGIN
        {_add("+", "name = 'photos:' || new.status AND new.trashed_at IS NULL")}
        {_add("+", "name = 'indexed' AND new.status = 'indexed'")}
        {_add("+", "name = " + _OCR_OF.format(p="new"))}
    END""",
    # BEFORE: the photo's OCR status row still exists (foreign keys delete it afterwards,
    # and its own delete trigger then finds no photo and counts nothing).
    f"""CREATE TRIGGER counts_photos_bd BEFORE DELETE ON photos BEGIN
        {_add("-", "name = 'photos:' || old.status AND old.trashed_at IS NULL")}
        {_add("-", "name = 'indexed' AND old.status = 'indexed'")}
        {_add("-", "name = " + _OCR_OF.format(p="old"))}
    END""",
    f"""CREATE TRIGGER counts_photos_au AFTER UPDATE OF status, trashed_at, sha256 ON photos
    BEGIN
        {_add("-", "name = 'photos:' || old.status AND old.trashed_at IS NULL")}
        {_add("+", "name = 'photos:' || new.status AND new.trashed_at IS NULL")}
        {_add("-", "name = 'indexed' AND old.status = 'indexed'")}
        {_add("+", "name = 'indexed' AND new.status = 'indexed'")}
        {_add("-", "name = " + _OCR_OF.format(p="old"))}
        {_add("+", "name = " + _OCR_OF.format(p="new"))}
    END""",
    f"""CREATE TRIGGER counts_ocr_ai AFTER INSERT ON ocr_status BEGIN
        {_add("+", "name = 'ocr:' || new.state AND EXISTS " + _PHOTO_OF.format(s="new"))}
    END""",
    f"""CREATE TRIGGER counts_ocr_ad AFTER DELETE ON ocr_status BEGIN
        {_add("-", "name = 'ocr:' || old.state AND EXISTS " + _PHOTO_OF.format(s="old"))}
    END""",
    f"""CREATE TRIGGER counts_ocr_au AFTER UPDATE ON ocr_status BEGIN
        {_add("-", "name = 'ocr:' || old.state AND EXISTS " + _PHOTO_OF.format(s="old"))}
        {_add("+", "name = 'ocr:' || new.state AND EXISTS " + _PHOTO_OF.format(s="new"))}
    END""",
    f"""CREATE TRIGGER counts_tags_ai AFTER INSERT ON photo_tags BEGIN
        {_add("+", "name = 'tags'")}
        {
        _add(
            "+",
            "name = 'tagged_photos' AND NOT EXISTS (SELECT 1 FROM photo_tags t "
            "WHERE t.photo_id = new.photo_id AND t.label_id != new.label_id)",
        )
    }
    END""",
    f"""CREATE TRIGGER counts_tags_ad AFTER DELETE ON photo_tags BEGIN
        {_add("-", "name = 'tags'")}
        {
        _add(
            "-",
            "name = 'tagged_photos' AND NOT EXISTS (SELECT 1 FROM photo_tags t "
            "WHERE t.photo_id = old.photo_id)",
        )
    }
    END""",
)

REFERENCE_SQL = {
    **{
        f"photos:{s}": f"SELECT COUNT(*) FROM photos WHERE status = '{s}' AND trashed_at IS NULL"
        for s in PHOTO_STATUSES
    },
    "indexed": "SELECT COUNT(*) FROM photos WHERE status = 'indexed'",
    **{
        f"ocr:{s}": "SELECT COUNT(*) FROM ocr_status s JOIN photos p ON p.id = s.photo_id "
        f"AND p.sha256 IS s.sha256 AND p.status = 'indexed' WHERE s.state = '{s}'"
        for s in OCR_STATES
    },
    "tags": "SELECT COUNT(*) FROM photo_tags",
    "tagged_photos": "SELECT COUNT(DISTINCT photo_id) FROM photo_tags",
}


def reference_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Every total counted from the rows (a full scan: the migration and the tests)."""
    return {name: int(conn.execute(sql).fetchone()[0]) for name, sql in REFERENCE_SQL.items()}


def install(conn: sqlite3.Connection) -> None:
    """The table, filled from the rows already stored, and its triggers."""
    conn.execute("CREATE TABLE library_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    conn.executemany(
        "INSERT INTO library_counts (name, n) VALUES (?, ?)", reference_counts(conn).items()
    )
    for statement in TRIGGERS:
        conn.execute(statement)
