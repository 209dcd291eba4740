"""Trashed rows (kept until emptied, invisible and uncounted meanwhile) and places stored with the photo:
real SQLite files, the real v5 -> v6 migration, the real offline GeoNames lookup."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from edge_app.library import schema as library_schema
from edge_app.library.face_store import FaceRow
from edge_app.library.ocr_store import OcrLineRow
from edge_app.library.store import Library, PhotoFilter, PhotoMeta
from edge_app.library.tags import LabelDef
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


def _face(seed: int) -> FaceRow:
    return FaceRow((0.1, 0.1, 0.4, 0.4), 0.99, 0.8, _vec(seed, 128), crop_path=f"c{seed}.jpg")


def test_counts_and_facets_leave_out_trashed_photos(lib: Library) -> None:
    """Things (tag counts, covers), label sets, tag/OCR/face totals, people, roots: a trashed
    photo counts nowhere until it is restored (it only waits in the trash)."""
    metas = [PhotoMeta(f"2023/{n}.jpg", 1, 1, f"s{n}") for n in "abc"]
    a, b, c = lib.record_photos([(m, _vec(i)) for i, m in enumerate(metas)], "B1")
    label_set = lib.create_label_set("things", [LabelDef("dog", ("a dog",))])
    label = lib.get_label_set(label_set.id).labels[0].id
    tags = [(a, label, 9.0, 0.3), (b, label, 5.0, 0.2), (c, label, 1.0, 0.1)]
    lib.save_tags(label_set.id, label_set.version, [], tags, lib.index_generation(), "B1")
    box = ((0.0, 0.0), (9.0, 0.0), (9.0, 3.0), (0.0, 3.0))
    for pid, sha in ((a, "sa"), (b, "sb")):
        lib.record_ocr(pid, sha, "done", [OcrLineRow("QUOKKA", 0.9, box)])
    lib.set_faces_enabled(True)
    person = lib.create_person([*lib.record_faces(a, "sa", "done", [_face(1)])])
    lib.assign_faces(lib.record_faces(b, "sb", "done", [_face(2)]), person)
    lib.record_faces(c, "sc", "done", [_face(3)])

    def counts() -> tuple[object, ...]:
        [tag] = lib.tag_counts()
        [dog] = lib.get_label_set(label_set.id).labels
        [who] = lib.people()
        ocr, faces = lib.ocr_counts(), lib.face_counts()
        return (
            tag.count, tag.cover_photo_id, dog.count, lib.tag_totals()["tagged_photos"],
            lib.tag_totals()["tags"], ocr["done"], ocr["pending"], faces["faces"],
            faces["assigned"], faces["done"], who.photos, who.faces, who.cover_crop,
            lib.person_photo_ids(person), lib.list_roots()[0].photos,
        )  # fmt: skip

    before = counts()
    assert before == (3, a, 3, 3, 3, 2, 1, 3, 2, 3, 2, 2, "c1.jpg", [b, a], 3)
    assert lib.trash_photo(a, ".trash/20250101T000000-1-abcdef/a.jpg")
    assert counts() == (2, b, 2, 2, 2, 1, 1, 2, 1, 2, 1, 1, "c2.jpg", [b], 2)
    assert lib.restore_photo(a, ".trash/20250101T000000-1-abcdef/a.jpg", "2023/a.jpg")
    assert counts() == before
    assert [p.photo_id for p in lib.photos_needing_ocr()] == [c]
    lib.trash_photo(c, ".trash/20250101T000000-3-abcdef/c.jpg")  # not read while trashed
    assert lib.photos_needing_ocr() == [] and lib.ocr_counts()["pending"] == 0
