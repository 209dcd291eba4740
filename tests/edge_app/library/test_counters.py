"""Library totals kept by trigger (`edge_app.library.counters`): right after every kind of
write, and read at the same cost whatever the library's size (/api/status polls them)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_app.library import schema as library_schema
from edge_app.library.counters import reference_counts
from edge_app.library.ocr_store import OcrLineRow
from edge_app.library.records import PhotoMeta
from edge_app.library.store import Library
from edge_app.library.tags import LabelDef

BOX = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def _meta(rel: str, sha: str = "") -> PhotoMeta:
    return PhotoMeta(rel_path=rel, size=100, mtime_ns=1, sha256=sha or f"sha-{rel}")


def _vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(16).astype(np.float32)
    return v / np.linalg.norm(v)


def _photos(lib: Library, n: int, prefix: str = "p") -> list[int]:
    return lib.record_photos([(_meta(f"{prefix}/{i}.jpg"), _vec(i)) for i in range(n)], "B1")


def _tag(lib: Library, set_id: int, pairs: list[tuple[int, int]]) -> None:
    version = lib.get_label_set(set_id).version
    lib.save_tags(set_id, version, [], [(p, lab, 0.9, 0.3) for p, lab in pairs], 0, "B1")


def test_totals_match_the_rows_after_every_kind_of_write(tmp_path: Path) -> None:
    lib = Library(tmp_path / "library.db")
    check_conn = sqlite3.connect(tmp_path / "library.db")

    def agrees(step: str) -> None:
        want = reference_counts(check_conn)
        assert lib.library_counts() == want, step

    ids = _photos(lib, 12)
    lib.add_pending([_meta("q/0.jpg"), _meta("q/1.jpg")])
    lib.mark_error(_meta("q/2.jpg"), "broken")
    agrees("photos recorded")
    lib.record_ocr(ids[0], "sha-p/0.jpg", "done", [OcrLineRow("EXIT", 0.9, BOX)])
    lib.record_ocr(ids[1], "sha-p/1.jpg", "no_text")
    lib.record_ocr(ids[2], "sha-p/2.jpg", "failed", reason="x")
    lib.record_ocr(ids[3], "old-content", "done")  # not the photo's current content
    agrees("OCR recorded")
    lib.record_ocr(ids[2], "sha-p/2.jpg", "done", [OcrLineRow("OPEN", 0.8, BOX)])  # re-read
    lib.record_ocr(ids[3], "sha-p/3.jpg", "no_text")  # now current
    agrees("OCR replaced")
    lib.record_photos([(_meta("p/0.jpg", "changed"), _vec(99))], "B1")  # file changed
    lib.add_pending([_meta("p/1.jpg", "changed-too")])  # indexed -> pending
    agrees("photos changed")
    lib.trash_photo(ids[4], ".trash/4")
    lib.trash_photo(ids[5], ".trash/5")
    lib.restore_photo(ids[5], ".trash/5", "p/5.jpg")
    agrees("trash and restore")
    lib.forget_trashed([ids[4]])
    lib.delete_photos([ids[2], ids[6]])  # one with OCR lines, one without
    agrees("photos deleted")
    colours = lib.create_label_set("colours", [LabelDef("red"), LabelDef("blue")])
    red, blue = (lab.id for lab in colours.labels)
    _tag(lib, colours.id, [(ids[7], red), (ids[7], blue), (ids[8], red)])
    agrees("tags saved")
    _tag(lib, colours.id, [(ids[9], blue)])  # the set's tags replaced
    agrees("tags replaced")
    lib.record_ocr(ids[9], "sha-p/9.jpg", "done", [OcrLineRow("SALE", 0.9, BOX)])
    before = lib.library_counts()
    lib.trash_photo(ids[9], ".trash/9")  # tagged and read: its share leaves every total
    after = lib.library_counts()
    agrees("tagged photo trashed")
    assert [before[k] - after[k] for k in ("indexed", "ocr:done", "tags", "tagged_photos")] == [
        1, 1, 1, 1,
    ]  # fmt: skip
    lib.restore_photo(ids[9], ".trash/9", "p/9.jpg")
    assert lib.library_counts() == before
    nas = lib.add_root(tmp_path / "nas", "user")
    in_nas = _photos(lib, 3, prefix=f".roots/{nas.id}")
    lib.add_pending([_meta(f".roots/{nas.id}/new.jpg")])
    agrees("root added, photos in it")
    lib.trash_photo(in_nas[0], ".trash/nas0")  # out of its root while in the trash
    assert [r.photos for r in lib.list_roots()] == [12, 3]
    lib.restore_photo(in_nas[0], ".trash/nas0", f".roots/{nas.id}/0.jpg")
    agrees("root photo trashed and restored")
    lib.remove_root(nas.id)
    agrees("root removed")
    assert "root:2" not in lib.library_counts()
    lib.replace_labels(colours.id, [LabelDef("red")])  # "blue" and its tags go
    lib.delete_photos([ids[9]])
    agrees("label and photo deleted")
    lib.delete_label_set(colours.id)
    agrees("label set deleted")
    assert lib.counts_by_status() == {"indexed": 7, "pending": 3, "error": 1}
    assert lib.ocr_counts() == {"done": 0, "no_text": 1, "failed": 0, "pending": 6}
    check_conn.close()
    lib.close()


def _vm_steps(conn: sqlite3.Connection, read: Callable[[], object]) -> int:
    """SQLite virtual-machine steps a read takes (the progress handler counts them)."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn.set_progress_handler(count, 1)
    try:
        read()
    finally:
        conn.set_progress_handler(None, 1)
    return steps[0]


def test_status_totals_cost_the_same_at_any_library_size(tmp_path: Path) -> None:
    """Counting rows at poll time grew with the library (2.6 s at 1M photos)."""
    costs = []
    for n in (10, 2000):
        lib = Library(tmp_path / f"{n}.db")
        ids = _photos(lib, n)
        for i in ids[: n // 2]:
            lib.record_ocr(i, None, "no_text")  # stale: sha256 None is not the content
        with lib.transaction():
            lib._exec(
                "UPDATE ocr_status SET sha256 = (SELECT sha256 FROM photos WHERE id = photo_id)"
            )

        def reads(lib: Library = lib) -> None:
            lib.counts_by_status()
            lib.ocr_counts()
            lib.tag_totals()

        costs.append(_vm_steps(lib.db.conn, reads))
        assert lib.ocr_counts()["no_text"] == n // 2
        lib.close()
    assert costs[1] <= costs[0] + 50, costs


def test_listing_the_roots_costs_the_same_at_any_library_size(tmp_path: Path) -> None:
    """The watcher lists the roots every second; counting their photos then scanned every
    photo row (57 ms a second at 100k photos, stalling the searches beside it)."""
    costs = []
    for n in (10, 2000):
        lib = Library(tmp_path / f"{n}.db")
        nas = lib.add_root(tmp_path / "nas", "user")
        _photos(lib, n)
        _photos(lib, n // 2, prefix=f".roots/{nas.id}")
        lib.trash_photo(1, ".trash/1")
        costs.append(_vm_steps(lib.db.conn, lib.list_roots))
        assert [r.photos for r in lib.list_roots()] == [n - 1, n // 2]
        lib.close()
    assert costs[1] <= costs[0] + 50, costs


def test_a_v11_library_gets_its_root_counts_on_upgrade(tmp_path: Path) -> None:
    """v11 kept no per-root totals: v12 counts them from the rows and keeps them after."""
    path = tmp_path / "v11.db"
    conn = sqlite3.connect(path)
    library_schema.migrate(conn, "v11", migrations=library_schema.MIGRATIONS[:11])
    conn.execute("DROP TRIGGER counts_roots_ai")  # as released: no root rows or triggers
    conn.execute("DROP TRIGGER counts_roots_ad")
    conn.execute("DELETE FROM library_counts WHERE name LIKE 'root:%'")
    conn.execute("INSERT INTO roots (id, path, source, added_at) VALUES (2, '/nas', 'user', 'x')")
    for rel in ("a.jpg", ".roots/2/b.jpg", ".roots/2/c.jpg"):
        conn.execute(
            "INSERT INTO photos (rel_path, status, added_at) VALUES (?, 'pending', 'x')", [rel]
        )
    conn.commit()
    conn.close()
    with Library(path) as lib:
        assert lib.schema_version() == library_schema.SCHEMA_VERSION >= 12
        assert [(r.id, r.photos) for r in lib.list_roots()] == [(1, 1), (2, 2)]
        lib.trash_photo(2, ".trash/b")
        assert [(r.id, r.photos) for r in lib.list_roots()] == [(1, 1), (2, 1)]
