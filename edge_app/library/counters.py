"""Library totals kept in step by triggers: what `/api/status` shows on every 2-second poll.

Why: counting at poll time joined every OCR status row to its photo and counted every
photo, 1.6-2.6 s per poll at 1M photos (docs/benchmarks/ocr-v6-cpu/). The table
``library_counts`` holds one row per total, changed by triggers in the same transaction
as the rows they count (so it is never ahead of or behind the data, and kill -9 safe),
and reading it costs the same at 10 photos and at 1M. Definitions, identical to the
queries they replace (`reference_counts`, kept for the tests and the migration):

Every total leaves trashed photos out (a trashed photo is not read either, and comes back
with its rows on restore), and counts an unplugged root's photos (`trash_rows.LIVE_IDS_SQL`):

* ``photos:<status>``: photos per status (indexed, pending, error);
* ``indexed``: indexed photos (the base of "OCR pending");
* ``ocr:<state>``: OCR status rows for the photo's current content of indexed photos;
* ``tags``: stored tags of those photos; ``tagged_photos``: photos with at least one tag;
* ``root:<id>``: photos of root ``id``, any status (what the Roots page and the watcher
  show; the watcher reads them every second, and counting them there scanned every photo
  row: 57 ms of a core at 100k photos, which stalled the image search running beside it;
  docs/benchmarks/daemon-100k). A row per root, added and removed with it.
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
    "AND {p}.status = 'indexed' AND {p}.trashed_at IS NULL AND s.sha256 IS {p}.sha256)"
)
_PHOTO_OF = (
    "(SELECT 1 FROM photos p WHERE p.id = {s}.photo_id AND p.status = 'indexed' "
    "AND p.trashed_at IS NULL AND p.sha256 IS {s}.sha256)"
)
# Photo P (NEW or OLD) is in the library (not trashed) and holds tags.
_TAGS_OF = (
    "(SELECT COUNT(*) FROM photo_tags t WHERE t.photo_id = {p}.id AND {p}.trashed_at IS NULL)"
)
_TAGGED_OF = (
    "(SELECT COUNT(*) > 0 FROM photo_tags t WHERE t.photo_id = {p}.id AND {p}.trashed_at IS NULL)"
)
# The photo of tag row T is in the library (a photo's delete trigger counts its own tags:
# by the time the cascade deletes them, the photo row is gone and this finds nothing).
_LIVE_PHOTO_OF = "(SELECT 1 FROM photos p WHERE p.id = {t}.photo_id AND p.trashed_at IS NULL)"
# Root R's row (the migration counts every root, the insert trigger a new one).
_ROOT_COUNT = (
    "SELECT 'root:' || {r}.id, (SELECT COUNT(*) FROM photos p WHERE p.root_id = {r}.id "
    "AND p.trashed_at IS NULL)"
)


def _add(delta: str, where: str, amount: str = "1") -> str:
    return f"UPDATE library_counts SET n = n {delta} {amount} WHERE {where};"


def _photo_totals(delta: str, p: str) -> str:
    """Photo P's share of every total, added (+) or taken away (-)."""
    return "\n".join((
        _add(delta, f"name = 'photos:' || {p}.status AND {p}.trashed_at IS NULL"),
        _add(delta, f"name = 'indexed' AND {p}.status = 'indexed' AND {p}.trashed_at IS NULL"),
        _add(delta, "name = " + _OCR_OF.format(p=p)),
        _add(delta, "name = 'tags'", _TAGS_OF.format(p=p)),
        _add(delta, "name = 'tagged_photos'", _TAGGED_OF.format(p=p)),
        _add(delta, f"name = 'root:' || {p}.root_id AND {p}.trashed_at IS NULL"),
    ))  # fmt: skip


def _tag_trigger(suffix: str, event: str, delta: str, row: str, other_tags: str) -> str:
    """A tag row added or removed: the tag total, and the tagged photos where it is the
    photo's only tag (``other_tags`` leaves the row itself out: AFTER INSERT sees it)."""
    only_tag = (
        f"name = 'tagged_photos' AND NOT EXISTS (SELECT 1 FROM photo_tags t "
        f"WHERE t.photo_id = {row}.photo_id {other_tags})"
    )
    return f"""CREATE TRIGGER counts_tags_{suffix} AFTER {event} ON photo_tags
    WHEN EXISTS {_LIVE_PHOTO_OF.format(t=row)} BEGIN
        {_add(delta, "name = 'tags'")}
        {_add(delta, only_tag)}
    END"""


TRIGGERS = (
    f"""CREATE TRIGGER counts_photos_ai AFTER INSERT ON photos BEGIN
        {_photo_totals("+", "new")}
    END""",
    # BEFORE: the photo's OCR status and tag rows still exist (foreign keys delete them
    # afterwards, and their own delete triggers then find no photo and count nothing).
    f"""CREATE TRIGGER counts_photos_bd BEFORE DELETE ON photos BEGIN
        {_photo_totals("-", "old")}
    END""",
    # rel_path: a photo's root follows its key (`schema._v3_photo_roots`).
    f"""CREATE TRIGGER counts_photos_au AFTER UPDATE OF status, trashed_at, sha256, rel_path
    ON photos BEGIN
        {_photo_totals("-", "old")}
        {_photo_totals("+", "new")}
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
    _tag_trigger("ai", "INSERT", "+", "new", "AND t.label_id != new.label_id"),
    _tag_trigger("ad", "DELETE", "-", "old", ""),
    f"""CREATE TRIGGER counts_roots_ai AFTER INSERT ON roots BEGIN
        INSERT INTO library_counts (name, n) {_ROOT_COUNT.format(r="new")};
    END""",
    """CREATE TRIGGER counts_roots_ad AFTER DELETE ON roots BEGIN
        DELETE FROM library_counts WHERE name = 'root:' || old.id;
    END""",
)

_LIVE = "p.trashed_at IS NULL"
REFERENCE_SQL = {
    **{
        f"photos:{s}": f"SELECT COUNT(*) FROM photos p WHERE status = '{s}' AND {_LIVE}"
        for s in PHOTO_STATUSES
    },
    "indexed": f"SELECT COUNT(*) FROM photos p WHERE status = 'indexed' AND {_LIVE}",
    **{
        f"ocr:{s}": "SELECT COUNT(*) FROM ocr_status s JOIN photos p ON p.id = s.photo_id "
        f"AND p.sha256 IS s.sha256 AND p.status = 'indexed' AND {_LIVE} WHERE s.state = '{s}'"
        for s in OCR_STATES
    },
    "tags": f"SELECT COUNT(*) FROM photo_tags t JOIN photos p ON p.id = t.photo_id AND {_LIVE}",
    "tagged_photos": "SELECT COUNT(DISTINCT t.photo_id) FROM photo_tags t "
    f"JOIN photos p ON p.id = t.photo_id AND {_LIVE}",
}


def reference_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Every total counted from the rows (a full scan: the migration and the tests)."""
    counts = {name: int(conn.execute(sql).fetchone()[0]) for name, sql in REFERENCE_SQL.items()}
    roots = conn.execute(_ROOT_COUNT.format(r="r") + " FROM roots r").fetchall()
    return counts | {str(name): int(n) for name, n in roots}


def install(conn: sqlite3.Connection) -> None:
    """The table, filled from the rows already stored, and its triggers."""
    conn.execute("CREATE TABLE library_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    conn.executemany(
        "INSERT INTO library_counts (name, n) VALUES (?, ?)", reference_counts(conn).items()
    )
    for statement in TRIGGERS:
        conn.execute(statement)


def reinstall(conn: sqlite3.Connection) -> None:
    """Drop the table and every trigger of an older set of totals, then `install`: a
    migration that adds a total recounts them all (7.7 s at 1M photos)."""
    triggers = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'counts\\_%' "
        "ESCAPE '\\'"
    ).fetchall()
    for (name,) in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute("DROP TABLE library_counts")
    install(conn)
