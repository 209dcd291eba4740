"""Trashed rows (kept until emptied, invisible meanwhile) and places stored with the photo:
real SQLite files, the real v5 -> v6 migration, the real offline GeoNames lookup."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from edge_app.library import schema as library_schema
from edge_app.library.store import Library, PhotoFilter, PhotoMeta
from edge_app.search.places import with_places

PARIS = (48.85837, 2.29448)
LYON = (45.76404, 4.83566)


def _vec(seed: int, dim: int = 16) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def lib(tmp_path: Path) -> Library:
    return Library(tmp_path / "library.db")


def test_a_trashed_row_is_kept_but_shown_nowhere_until_restored(lib: Library) -> None:
    a, b = lib.record_photos(
        [(PhotoMeta("2023/a.jpg", 1, 1, "sa"), _vec(1)), (PhotoMeta("2023/b.jpg", 1, 1, "sb"), _vec(2))],
        "B1",
    )  # fmt: skip
    gen = lib.index_generation()
    assert lib.trash_photo(a, ".trash/20250101T000000-1-abcdef/a.jpg")
    assert not lib.trash_photo(a, ".trash/x/a.jpg")  # already trashed
    assert lib.index_generation() > gen
    assert lib.filter_ids(PhotoFilter()).tolist() == [b]
    assert [p.id for p, _ in lib.timeline()] == [b]
    assert lib.folder_counts() == {"2023": 1}
    assert lib.count_embeddings("B1") == 1 and lib.counts_by_status()["indexed"] == 1
    assert [i.tolist() for i, _ in lib.iter_embeddings("B1")] == [[b]]
    assert set(lib.known_files()) == {"2023/b.jpg"}  # the scan neither deletes nor re-adds it
    assert lib.get_photos([a, b])[0].id == b
    assert not lib.restore_photo(a, ".trash/another-item/a.jpg", "2023/a.jpg")
    assert lib.restore_photo(a, ".trash/20250101T000000-1-abcdef/a.jpg", "2023/a.jpg")
    assert lib.get_photo(a).rel_path == "2023/a.jpg" and lib.count_embeddings("B1") == 2
    assert not lib.restore_photo(a, ".trash/20250101T000000-1-abcdef/a.jpg", "2023/a.jpg")
    lib.trash_photo(b, ".trash/t/b.jpg")
    assert lib.forget_trashed([a, b]) == ["sb"]  # only trashed rows go
    assert [p.id for p in lib.get_photos([a, b])] == [a]


def test_places_are_stored_when_indexed_and_follow_a_gps_change(lib: Library) -> None:
    meta = PhotoMeta("p.jpg", 1, 1, "s1", gps_lat=PARIS[0], gps_lon=PARIS[1])
    [pid] = lib.record_photos([(with_places([meta])[0], _vec(1))], "B1")
    assert lib.get_photo(pid).place == "Paris, Île-de-France, France"
    moved = PhotoMeta("p.jpg", 2, 2, "s2", gps_lat=LYON[0], gps_lon=LYON[1])
    lib.record_photos([(with_places([moved])[0], _vec(1))], "B1")
    assert lib.get_photo(pid).place == "Lyon, Auvergne-Rhône-Alpes, France"
    assert lib.place_rows() == [(pid, "Lyon", "Auvergne-Rhône-Alpes", "France")]
    bad = PhotoMeta("q.jpg", 1, 1, "s3", gps_lat=123.0, gps_lon=0.0)  # broken EXIF
    assert with_places([bad])[0].place_city is None
    lib.record_photos([(PhotoMeta("p.jpg", 3, 3, "s4"), _vec(1))], "B1")  # GPS removed
    assert lib.get_photo(pid).place == "" and lib.place_rows() == []


def test_the_v6_migration_fills_in_the_places_of_existing_rows(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    library_schema.migrate(conn, "v5", migrations=library_schema.MIGRATIONS[:5])
    conn.executemany(
        "INSERT INTO photos (rel_path, status, gps_lat, gps_lon, added_at) "
        "VALUES (?, 'indexed', ?, ?, 'x')",
        [("paris.jpg", *PARIS), ("lyon.jpg", *LYON), ("nogps.jpg", None, None)],
    )
    conn.commit()
    conn.close()
    lib = Library(path)
    places = {lib.get_photo(i).rel_path: lib.get_photo(i).place for i in (1, 2, 3)}
    assert places == {
        "paris.jpg": "Paris, Île-de-France, France",
        "lyon.jpg": "Lyon, Auvergne-Rhône-Alpes, France",
        "nogps.jpg": "",
    }
