"""The library trash on a real folder: move in, restore, empty, and path safety."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_app.errors import NotFoundError, PathOutsideLibraryError
from edge_app.indexing.scanner import scan
from edge_app.ingest.trash import TRASH_DIR, Trash


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    (root / "2024").mkdir(parents=True)
    (root / "2024" / "a.jpg").write_bytes(b"photo a")
    (root / "b.jpg").write_bytes(b"photo b")
    return root


def test_move_in_hides_the_file_from_the_scanner(library: Path) -> None:
    item = Trash(library).move_in("2024/a.jpg", 7)
    assert not (library / "2024" / "a.jpg").exists()
    assert (library / TRASH_DIR / item.token / "a.jpg").read_bytes() == b"photo a"
    assert sorted(f.rel_path for f in scan(library).files) == ["b.jpg"]
    assert [i.photo_id for i in Trash(library).items()] == [7]


def test_restore_puts_it_back(library: Path) -> None:
    trash = Trash(library)
    item = trash.move_in("2024/a.jpg", 7)
    assert trash.restore(item.token) == "2024/a.jpg"
    assert (library / "2024" / "a.jpg").read_bytes() == b"photo a"
    assert trash.items() == [] and not (library / TRASH_DIR / item.token).exists()


def test_restore_never_overwrites(library: Path) -> None:
    trash = Trash(library)
    item = trash.move_in("b.jpg", 2)
    (library / "b.jpg").write_bytes(b"a new b")
    rel = trash.restore(item.token)
    assert rel != "b.jpg" and (library / rel).read_bytes() == b"photo b"
    assert (library / "b.jpg").read_bytes() == b"a new b"


def test_empty_deletes_only_the_trash(library: Path) -> None:
    trash = Trash(library)
    trash.move_in("b.jpg", 2)
    trash.move_in("2024/a.jpg", 1)
    assert trash.empty() == 2
    assert trash.items() == [] and not (library / "b.jpg").exists()
    assert (library / "2024").is_dir()


@pytest.mark.parametrize("rel", ["../outside.jpg", "/etc/passwd", f"{TRASH_DIR}/x/a.jpg"])
def test_paths_outside_the_library_are_refused(library: Path, rel: str) -> None:
    (library.parent / "outside.jpg").write_bytes(b"not ours")
    with pytest.raises(PathOutsideLibraryError):
        Trash(library).move_in(rel, 1)
    assert (library.parent / "outside.jpg").exists()


@pytest.mark.parametrize("token", ["../../library", "..", "x/y", "20240101T000000-1-zzzzzz"])
def test_bad_tokens_are_not_found(library: Path, token: str) -> None:
    with pytest.raises(NotFoundError):
        Trash(library).restore(token)


def test_tampered_item_cannot_restore_outside(library: Path) -> None:
    trash = Trash(library)
    item = trash.move_in("b.jpg", 2)
    meta = library / TRASH_DIR / item.token / "item.json"
    meta.write_text(json.dumps({**item.to_json(), "rel_path": "../../evil.jpg"}))
    with pytest.raises(PathOutsideLibraryError):
        trash.restore(item.token)
    assert (library / TRASH_DIR / item.token / "b.jpg").exists()


def test_missing_file_is_not_found(library: Path) -> None:
    with pytest.raises(NotFoundError):
        Trash(library).move_in("gone.jpg", 3)
