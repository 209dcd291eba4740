"""Library: real SQLite files, migrations, WAL readers, photo and import-session API."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from edge_app.errors import LibraryError, NotFoundError, SchemaTooNewError
from edge_app.library import schema as library_schema
from edge_app.library.store import ImportFile, Library, PhotoFilter, PhotoMeta


def _vec(seed: int, dim: int = 16) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def _meta(rel: str, sha: str = "", **kw: object) -> PhotoMeta:
    return PhotoMeta(rel_path=rel, size=100, mtime_ns=1, sha256=sha or f"sha-{rel}", **kw)  # type: ignore[arg-type]


@pytest.fixture
def lib(tmp_path: Path) -> Library:
    return Library(tmp_path / "db" / "library.db")


def test_record_and_read_back_with_float16_embedding(lib: Library) -> None:
    when = datetime(2023, 7, 1, 12, 30)
    [pid] = lib.record_photos([(_meta("a/b.jpg", width=4, height=3, taken_at=when), _vec(1))], "B1")
    photo = lib.get_photo(pid)
    assert (photo.rel_path, photo.status, photo.bundle_id, photo.taken_at) == (
        "a/b.jpg",
        "indexed",
        "B1",
        when,
    )
    assert photo.has_embedding and photo.folder == "a"
    emb = lib.get_embedding(pid)
    assert emb is not None and emb.dtype == np.float32
    assert float(emb @ _vec(1)) > 0.9999
    assert lib.index_generation() == 1
    with pytest.raises(NotFoundError, match="photo 999"):
        lib.get_photo(999)


def test_upsert_keeps_id_and_bumps_generation(lib: Library) -> None:
    [a] = lib.record_photos([(_meta("x.jpg"), _vec(1))], "B1")
    [b] = lib.record_photos([(_meta("x.jpg", sha="new"), _vec(2))], "B1")
    assert a == b and lib.get_photo(a).sha256 == "new"
    assert lib.index_generation() == 2


def test_failed_transaction_rolls_back_rows_and_generation(lib: Library) -> None:
    bad = np.array([np.nan, 1.0], dtype=np.float32)
    with pytest.raises(LibraryError, match="not finite"):
        lib.record_photos([(_meta("ok.jpg"), _vec(1)), (_meta("bad.jpg"), bad)], "B1")
    assert lib.find_by_rel_path("ok.jpg") is None
    assert lib.index_generation() == 0


def test_move_detection_by_sha256_and_rename(lib: Library) -> None:
    [pid] = lib.record_photos([(_meta("old/p.jpg", sha="H"), _vec(3))], "B1")
    [found] = lib.find_by_sha256("H")
    lib.rename_photo(found.id, "new/p.jpg", mtime_ns=5)
    moved = lib.get_photo(pid)
    assert (moved.rel_path, moved.mtime_ns, moved.has_embedding) == ("new/p.jpg", 5, True)
    lib.record_photos([(_meta("other.jpg"), _vec(4))], "B1")
    with pytest.raises(LibraryError, match="already in the library"):
        lib.rename_photo(pid, "other.jpg")
    with pytest.raises(NotFoundError):
        lib.rename_photo(12345, "z.jpg")


def test_known_files_pending_errors_and_bundle_switch(lib: Library) -> None:
    ids = lib.record_photos([(_meta("a.jpg"), _vec(1)), (_meta("b.jpg"), _vec(2))], "B1")
    [pending] = lib.add_pending([_meta("c.jpg")])
    err = lib.mark_error(_meta("d.jpg"), "not an image: truncated JPEG")
    known = lib.known_files()
    assert set(known) == {"a.jpg", "b.jpg", "c.jpg", "d.jpg"}
    assert (known["a.jpg"].size, known["a.jpg"].mtime_ns, known["a.jpg"].sha256) == (
        100,
        1,
        "sha-a.jpg",
    )
    assert lib.counts_by_status() == {"indexed": 2, "pending": 1, "error": 1}
    assert [p.id for p in lib.list_errors()] == [err]
    assert lib.list_errors()[0].error_reason == "not an image: truncated JPEG"
    assert [p.id for p in lib.photos_needing_embedding("B1")] == [pending]
    assert [p.id for p in lib.photos_needing_embedding("B2")] == sorted([*ids, pending])
    lib.add_pending([_meta("a.jpg", sha="changed")])  # file changed: stale embedding dropped
    assert lib.get_embedding(ids[0]) is None


def test_iter_embeddings_batches_and_get_embeddings(lib: Library) -> None:
    items = [(_meta(f"p{i}.jpg"), _vec(i)) for i in range(10)]
    ids = lib.record_photos(items, "B1")
    lib.record_photos([(_meta("other.jpg"), _vec(99))], "B2")
    batches = list(lib.iter_embeddings("B1", batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    all_ids = np.concatenate([b[0] for b in batches])
    assert all_ids.tolist() == ids and lib.count_embeddings("B1") == 10
    got_ids, mat = lib.get_embeddings([ids[3], ids[1]])
    assert got_ids.tolist() == sorted([ids[3], ids[1]]) and mat.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(mat, axis=1), 1.0, atol=1e-6)


def test_delete_photos(lib: Library) -> None:
    ids = lib.record_photos([(_meta("a.jpg"), _vec(1)), (_meta("b.jpg"), _vec(2))], "B1")
    gen = lib.index_generation()
    assert lib.delete_photos([ids[0]]) == 1
    assert lib.find_by_rel_path("a.jpg") is None and lib.index_generation() == gen + 1
    assert [p.id for p in lib.get_photos([ids[1], ids[0]])] == [ids[1]]


def test_filters(lib: Library) -> None:
    rows = [
        (_meta("2023/beach/1.jpg", taken_at=datetime(2023, 7, 1, 9), camera_make="Canon", camera_model="EOS R5", gps_lat=1.0, gps_lon=2.0), _vec(1)),
        (_meta("2023/beach/2.jpg", taken_at=datetime(2023, 7, 2, 23, 59), camera_make="Apple", camera_model="Apple iPhone 12"), _vec(2)),
        (_meta("2023/beachball.jpg", taken_at=datetime(2024, 1, 1)), _vec(3)),
        (_meta("undated.jpg"), _vec(4)),
    ]  # fmt: skip
    a, b, c, d = lib.record_photos(rows, "B1")
    assert lib.filter_ids(PhotoFilter()).tolist() == [a, b, c, d]
    july = PhotoFilter(taken_from=date(2023, 7, 1), taken_to=date(2023, 7, 2))
    assert lib.filter_ids(july).tolist() == [a, b]
    # undated.jpg counts under its file date (mtime 1 ns after the epoch), as on the timeline
    assert lib.filter_ids(PhotoFilter(taken_to=datetime(2023, 7, 2, 12))).tolist() == [a, d]
    assert lib.filter_ids(PhotoFilter(taken_from=date(1971, 1, 1))).tolist() == [a, b, c]
    assert lib.filter_ids(PhotoFilter(folder="2023/beach/")).tolist() == [a, b]
    assert lib.filter_ids(PhotoFilter(camera="Apple iPhone 12")).tolist() == [b]
    assert lib.filter_ids(PhotoFilter(camera="Canon EOS R5")).tolist() == [a]
    assert lib.filter_ids(PhotoFilter(has_gps=True)).tolist() == [a]
    assert lib.filter_ids(PhotoFilter(has_gps=False, folder="2023")).tolist() == [b, c]
    assert lib.cameras() == ["Apple iPhone 12", "Canon EOS R5"]
    assert [p.id for p in lib.list_photos(limit=3)] == [c, b, a]
    assert lib.count_photos(PhotoFilter(folder="2023")) == 3


def test_import_sessions_resume_and_counters(lib: Library) -> None:
    s = lib.start_import("uuid-1234", "SDCARD", "imports/SDCARD")
    lib.set_import_found(s.id, 3)
    lib.record_import_file(
        ImportFile(
            s.id,
            "DCIM/1.jpg",
            "verified",
            sha256="h1",
            size=10,
            dest_rel_path="imports/SDCARD/1.jpg",
        )
    )
    lib.record_import_file(ImportFile(s.id, "DCIM/2.jpg", "failed", size=7, reason="I/O error"))
    lib.record_import_file(ImportFile(s.id, "DCIM/3.jpg", "skipped", sha256="h0"))
    assert lib.interrupt_running_imports("daemon restarted") == 1
    resumable = lib.resumable_import("uuid-1234")
    assert resumable is not None and resumable.state == "interrupted"
    lib.resume_import(s.id)
    lib.record_import_file(ImportFile(s.id, "DCIM/2.jpg", "verified", sha256="h2", size=7))
    done = lib.finish_import(s.id, "done")
    assert (done.found, done.copied, done.failed, done.skipped_duplicate) == (3, 2, 0, 1)
    assert done.bytes_copied == 17 and done.finished_at is not None
    assert set(lib.import_files(s.id)) == {"DCIM/1.jpg", "DCIM/2.jpg", "DCIM/3.jpg"}
    assert lib.resumable_import("uuid-1234") is None
    assert lib.sha256_known("h2") and not lib.sha256_known("h0")
    with pytest.raises(LibraryError, match="state"):
        lib.record_import_file(ImportFile(s.id, "x", "copied"))


def test_meta_roundtrip(lib: Library) -> None:
    lib.set_meta("active_bundle", "B1")
    assert lib.get_meta("active_bundle") == "B1" and lib.get_meta("missing", "d") == "d"
    assert lib.schema_version() == library_schema.SCHEMA_VERSION


def test_v1_database_is_migrated_and_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    library_schema.migrate(conn, "old", migrations=library_schema.MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO photos (rel_path, status, added_at) VALUES ('kept.jpg', 'pending', 'x')"
    )
    conn.commit()
    assert library_schema.read_version(conn) == 1
    conn.close()
    lib = Library(path)
    assert lib.schema_version() == library_schema.SCHEMA_VERSION >= 2
    assert lib.find_by_rel_path("kept.jpg") is not None
    assert lib.start_import("k", None, "d").state == "running"  # v2 tables exist


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Library(path).set_meta("schema_version", "99")
    with pytest.raises(SchemaTooNewError, match="schema version 99"):
        Library(path)
    with pytest.raises(SchemaTooNewError):
        Library.open_reader(path)


def test_reader_refuses_missing_or_old_database(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="no library database"):
        Library.open_reader(tmp_path / "none.db")
    conn = sqlite3.connect(tmp_path / "v1.db")
    library_schema.migrate(conn, "v1", migrations=library_schema.MIGRATIONS[:1])
    conn.close()
    with pytest.raises(LibraryError, match="upgrade"):
        Library.open_reader(tmp_path / "v1.db")


def test_reader_is_not_blocked_by_an_open_write(lib: Library) -> None:
    lib.record_photos([(_meta("first.jpg"), _vec(1))], "B1")
    reader = Library.open_reader(lib.path, busy_timeout_s=0.05)
    with lib.transaction():
        lib.record_photos([(_meta("second.jpg"), _vec(2))], "B1")
        # The writer holds its RESERVED lock: the reader still answers from the last commit.
        assert set(reader.known_files()) == {"first.jpg"}
        assert reader.index_generation() == 1
    assert set(reader.known_files()) == {"first.jpg", "second.jpg"}
    assert reader.index_generation() == 2
    with pytest.raises(LibraryError, match="read-only"):
        reader.record_photos([(_meta("x.jpg"), _vec(3))], "B1")
    mode = sqlite3.connect(lib.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_text_lookup_starts_from_the_matching_lines_not_from_every_photo(lib: Library) -> None:
    """Every plain search looks its words up in the OCR text: with many photos and little
    text, a plan that walks the photos costs ~120 ms at 1M (docs/benchmarks/daemon-1m)."""
    from edge_app.library import ocr_store

    lib.record_photos([(_meta(f"p/{i}.jpg"), _vec(i)) for i in range(200)], "B1")
    sql = (
        f"SELECT l.photo_id FROM ocr_lines l {ocr_store._CURRENT} "
        "WHERE l.id IN (SELECT rowid FROM ocr_fts WHERE ocr_fts MATCH '\"dog\"')"
    )
    plan = [r["detail"] for r in lib._rows("EXPLAIN QUERY PLAN " + sql)]
    assert plan[0].startswith(("SEARCH l ", "SCAN l ")), plan
    assert lib.text_hits("dog") == []


def test_v5_ocr_lines_are_folded_by_the_v7_migration(tmp_path: Path) -> None:
    """Lines read before schema v7 are found accent- and case-insensitively afterwards."""
    from edge_app.library.ocr_store import OcrLineRow

    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    library_schema.migrate(conn, "v5", migrations=library_schema.MIGRATIONS[:5])
    conn.execute(
        "INSERT INTO photos (rel_path, status, added_at, sha256) "
        "VALUES ('cafe.jpg', 'indexed', 'x', 'h')"
    )
    conn.execute(
        "INSERT INTO ocr_status (photo_id, sha256, state, lines, updated_at) "
        "VALUES (1, 'h', 'done', 1, 'x')"
    )
    conn.execute(
        "INSERT INTO ocr_lines (photo_id, line_no, text, score, box) "
        "VALUES (1, 0, 'CAFÉ ÜBER', 0.9, '[]')"
    )
    conn.commit()
    conn.close()
    lib = Library(path)
    assert lib.schema_version() == library_schema.SCHEMA_VERSION >= 7
    assert [h.line for h in lib.text_hits("cafe")] == ["CAFÉ ÜBER"]
    assert [h.photo_id for h in lib.text_hits("über")] == [1]
    assert lib.check_ocr_index() == 1
    lib.record_ocr(1, "h", "done", [OcrLineRow("Straße", 0.8, ())])  # new lines are folded too
    assert [h.line for h in lib.text_hits("STRASSE")] == ["Straße"]
    assert lib.text_hits("cafe") == []
