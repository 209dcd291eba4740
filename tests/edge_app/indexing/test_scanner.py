"""scan() over real folder trees with junk, system folders and symbolic links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge_app.errors import LibraryError, PathOutsideLibraryError
from edge_app.indexing.scanner import scan


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    _touch(root / "2023" / "beach.JPG", b"12345")
    _touch(root / "2023" / "sub" / "deep" / "cat.heic")
    _touch(root / "scan.Tiff")
    _touch(root / "notes.txt")
    _touch(root / "movie.mp4")
    _touch(root / "2023" / "._beach.JPG")  # macOS resource fork
    _touch(root / ".hidden" / "secret.jpg")
    for junk in (
        ".Trashes",
        ".Spotlight-V100",
        ".fseventsd",
        "System Volume Information",
        "$RECYCLE.BIN",
        "@eaDir",
        ".git",
        "lost+found",
        ".thumbnails",
    ):
        _touch(root / junk / "x.jpg")
    return root


def test_finds_photos_case_insensitively_and_skips_junk(library: Path) -> None:
    result = scan(library)
    assert [f.rel_path for f in result.files] == [
        "2023/beach.JPG",
        "2023/sub/deep/cat.heic",
        "scan.Tiff",
    ]
    beach = result.files[0]
    assert beach.size == 5 and beach.abs_path == library.resolve() / "2023" / "beach.JPG"
    assert beach.mtime_ns == os.stat(beach.abs_path).st_mtime_ns
    reasons = {s.path: s.reason for s in result.skipped}
    assert "system folder" in reasons["$RECYCLE.BIN"]
    assert "system folder" in reasons["System Volume Information"]
    assert "hidden folder" in reasons[".hidden"]
    assert len(reasons) == 10  # nine system folders + one hidden one
    assert result.scopes == ("",)


def test_sub_paths_limit_the_scan_and_scope(library: Path) -> None:
    result = scan(library, [library / "2023" / "sub", Path("scan.Tiff")])
    assert [f.rel_path for f in result.files] == ["2023/sub/deep/cat.heic", "scan.Tiff"]
    assert result.scopes == ("2023/sub", "scan.Tiff")
    assert result.in_scope("2023/sub/old.jpg") and not result.in_scope("2023/subway.jpg")
    assert not result.in_scope("2023/beach.JPG")


def test_path_outside_library_is_refused(library: Path, tmp_path: Path) -> None:
    outside = _touch(tmp_path / "elsewhere" / "a.jpg")
    with pytest.raises(PathOutsideLibraryError, match="outside the library"):
        scan(library, [outside.parent])
    with pytest.raises(PathOutsideLibraryError, match="outside the library"):
        scan(library, [Path("../elsewhere")])
    with pytest.raises(PathOutsideLibraryError, match="does not exist"):
        scan(library, [Path("no/such/folder")])
    with pytest.raises(LibraryError, match="does not exist"):
        scan(tmp_path / "no-library")


def test_symlinks_are_never_followed(library: Path, tmp_path: Path) -> None:
    outside = _touch(tmp_path / "private" / "passport.jpg")
    (library / "escape").symlink_to(outside.parent, target_is_directory=True)
    (library / "escape.jpg").symlink_to(outside)
    (library / "alias").symlink_to(library / "2023", target_is_directory=True)
    (library / "dangling.jpg").symlink_to(tmp_path / "nothing.jpg")
    (library / "2023" / "loop").symlink_to(library, target_is_directory=True)
    result = scan(library)
    assert [f.rel_path for f in result.files] == [
        "2023/beach.JPG",
        "2023/sub/deep/cat.heic",
        "scan.Tiff",
    ]
    reasons = {s.path: s.reason for s in result.skipped}
    assert "leads outside the library" in reasons["escape"]
    assert "leads outside the library" in reasons["escape.jpg"]
    assert "indexed at its real path" in reasons["alias"]
    assert "indexed at its real path" in reasons["2023/loop"]
    assert "broken symbolic link" in reasons["dangling.jpg"]


def test_symlinked_sub_path_leaving_the_root_is_refused(library: Path, tmp_path: Path) -> None:
    outside = _touch(tmp_path / "private" / "p.jpg")
    (library / "link").symlink_to(outside.parent, target_is_directory=True)
    with pytest.raises(PathOutsideLibraryError):
        scan(library, [library / "link"])


def test_unreadable_folder_is_skipped_with_reason(library: Path) -> None:
    locked = library / "locked"
    _touch(locked / "a.jpg")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as a user that ignores permissions (root)")
        reasons = {s.path: s.reason for s in scan(library).skipped}
        assert reasons["locked"].startswith("cannot read folder")
    finally:
        locked.chmod(0o755)


def test_library_root_inside_a_hidden_folder_is_fine(tmp_path: Path) -> None:
    root = tmp_path / ".edge" / "library"
    _touch(root / "a.png")
    assert [f.rel_path for f in scan(root).files] == ["a.png"]
