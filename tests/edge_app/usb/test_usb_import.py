"""USB import: real files, real SQLite; only misbehaving source readers are (named) fakes."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from edge_app.errors import ImportSessionError
from edge_app.indexing.scanner import scan
from edge_app.library.store import Library
from edge_app.settings import Settings
from edge_app.usb import copy as usb_copy
from edge_app.usb.detect import request_for_folder
from edge_app.usb.session import (
    INTERRUPTED_BY_STOP,
    ImportProgress,
    ImportSession,
    import_dirs_to_index,
    recent_imports,
    session_progress,
)
from tests.edge_app.usb.usb_fixtures import (
    CORRUPT,
    EMPTY,
    JUNK,
    STICK_PHOTOS,
    expected_copies,
    fault_injecting_opener,
    hook_opener,
    recording_opener,
    sha256,
    tree_state,
    write_stick,
)

TODAY = date(2024, 5, 17)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def library(settings: Settings) -> Iterator[Library]:
    lib = Library(settings.db_path)
    yield lib
    lib.close()


@pytest.fixture
def stick(tmp_path: Path) -> Path:
    return write_stick(tmp_path / "stick")


def _session(library: Library, settings: Settings, stick: Path, **kw: object) -> ImportSession:
    return ImportSession(library, settings, request_for_folder(stick), today=TODAY, **kw)  # type: ignore[arg-type]


def _library_files(settings: Settings) -> set[Path]:
    return {p for p in settings.imports_dir.rglob("*") if p.is_file() and "lock" not in p.name}


def _no_partial_files(settings: Settings) -> None:
    assert not list(settings.imports_dir.rglob("*.part")), "a partial copy was left behind"


def test_import_copies_verified_tree(library: Library, settings: Settings, stick: Path) -> None:
    final = _session(library, settings, stick).run()

    dest = settings.imports_dir / "2024-05-17_stick"
    assert final.state == "done" and final.safe_to_remove
    assert final.dest_dir == "imports/2024-05-17_stick"
    assert final.found == len(STICK_PHOTOS) + 2  # + corrupt + empty; junk and .txt not found
    assert final.copied == len(expected_copies())
    assert final.skipped_duplicate == 1
    assert final.failed == 1 and final.reason == "1 file(s) could not be copied"
    assert {p.relative_to(dest).as_posix() for p in _library_files(settings)} == expected_copies()
    for rel in expected_copies():  # byte-identical, subfolders preserved
        assert (dest / rel).read_bytes() == (stick / rel).read_bytes()
    assert not any((dest / rel).exists() for rel in JUNK)
    files = library.import_files(final.session_id or 0)
    assert files[EMPTY].state == "failed" and "empty file" in (files[EMPTY].reason or "")
    assert files["Trip/Day 2/copy of beach.jpg"].state == "skipped"
    assert files[CORRUPT].state == "verified"  # copied as-is; the indexer reports it
    assert files[CORRUPT].sha256 == sha256(stick / CORRUPT)
    assert final.bytes_copied == sum((stick / rel).stat().st_size for rel in expected_copies())
    _no_partial_files(settings)


def test_source_tree_is_never_modified(library: Library, settings: Settings, stick: Path) -> None:
    before = tree_state(stick)
    _session(library, settings, stick).run()
    assert tree_state(stick) == before


def test_copies_keep_the_photo_file_date(library: Library, settings: Settings, stick: Path) -> None:
    _session(library, settings, stick).run()
    rel = "DCIM/100CANON/IMG_0002.JPG"
    copy = settings.imports_dir / "2024-05-17_stick" / rel
    assert copy.stat().st_mtime_ns == (stick / rel).stat().st_mtime_ns


def test_content_already_in_library_is_skipped(
    library: Library, settings: Settings, stick: Path, tmp_path: Path
) -> None:
    _session(library, settings, stick).run()
    other = tmp_path / "other-stick"
    shutil.copytree(stick, other)
    second = _session(library, settings, other).run()

    assert second.state == "done"
    assert second.copied == 0
    assert second.skipped_duplicate == len(STICK_PHOTOS) + 1  # every photo + the corrupt one
    assert not (settings.imports_dir / "2024-05-17_other-stick").exists()  # empty: pruned


def test_same_day_same_label_gets_its_own_folder(
    library: Library, settings: Settings, tmp_path: Path
) -> None:
    first, second = tmp_path / "a" / "DCIM", tmp_path / "b" / "DCIM"
    write_stick(first)
    second.mkdir(parents=True)
    shutil.copy(first / "portrait.png", second / "new.png")
    (second / "new.png").write_bytes((second / "new.png").read_bytes() + b"different")
    _session(library, settings, first).run()
    result = _session(library, settings, second).run()
    assert result.dest_dir == "imports/2024-05-17_DCIM_2"
    assert (settings.imports_dir / "2024-05-17_DCIM_2" / "new.png").is_file()


def test_io_error_mid_copy_interrupts_and_resume_skips_verified(
    library: Library, settings: Settings, stick: Path
) -> None:
    first_two = sum((stick / r).stat().st_size for r in sorted(expected_copies())[:2])
    broken = _session(library, settings, stick, opener=fault_injecting_opener(first_two + 100))
    interrupted = broken.run()

    assert interrupted.state == "interrupted" and interrupted.safe_to_remove
    assert "Input/output error" in (interrupted.reason or "")
    assert "plug it in again" in (interrupted.reason or "")
    assert interrupted.copied == 2
    _no_partial_files(settings)
    dest = settings.imports_dir / "2024-05-17_stick"
    for path in _library_files(settings):  # whatever has a final name is complete
        assert sha256(path) == sha256(stick / path.relative_to(dest))

    opened: list[str] = []
    resumed = _session(library, settings, stick, opener=recording_opener(opened, stick)).run()
    assert resumed.session_id == interrupted.session_id
    assert resumed.state == "done" and resumed.reason == "1 file(s) could not be copied"
    assert resumed.copied == len(expected_copies())
    verified_first = {r for r, f in library.import_files(resumed.session_id or 0).items()}
    assert not set(opened) & set(sorted(expected_copies())[:2])  # not re-read
    assert EMPTY in verified_first
    assert {p.relative_to(dest).as_posix() for p in _library_files(settings)} == expected_copies()
    assert [s.id for s in library.list_imports()] == [resumed.session_id]


def test_file_deleted_mid_run_is_failed_and_recovered_later(
    library: Library, settings: Settings, stick: Path, tmp_path: Path
) -> None:
    victim = "Trip/Day 1/sunset.jpeg"
    saved = tmp_path / "saved.jpeg"
    shutil.copy(stick / victim, saved)

    def delete_victim(path: Path) -> None:
        if path.name == "IMG_0001.JPG":
            (stick / victim).unlink()

    result = _session(library, settings, stick, opener=hook_opener(delete_victim)).run()
    assert result.state == "done" and result.failed == 2  # the victim + the empty file
    files = library.import_files(result.session_id or 0)
    assert files[victim].reason == "the file disappeared from the source during the import"
    assert not (settings.imports_dir / "2024-05-17_stick" / victim).exists()

    shutil.copy(saved, stick / victim)  # the photographer puts it back, plugs in again
    again = _session(library, settings, stick).run()
    assert again.copied == 1 and again.dest_dir == "imports/2024-05-17_stick_2"
    assert sha256(settings.library_dir / again.dest_dir / victim) == sha256(saved)


def test_stick_vanishing_interrupts_then_resumes(
    library: Library, settings: Settings, stick: Path, tmp_path: Path
) -> None:
    pulled = tmp_path / "pulled"

    def pull_stick(path: Path) -> None:
        if path.name == "IMG_0003.JPG":
            stick.rename(pulled)  # the mount point empties: every later open fails

    result = _session(library, settings, stick, opener=hook_opener(pull_stick)).run()
    assert result.state == "interrupted"
    assert "removed or is failing" in (result.reason or "")
    _no_partial_files(settings)

    pulled.rename(stick)
    resumed = _session(library, settings, stick).run()
    assert resumed.session_id == result.session_id and resumed.state == "done"
    assert resumed.copied == len(expected_copies())


def test_cancel_marks_interrupted(library: Library, settings: Settings, stick: Path) -> None:
    holder: list[ImportSession] = []
    session = _session(library, settings, stick, opener=hook_opener(lambda p: holder[0].cancel()))
    holder.append(session)
    result = session.run()
    assert result.state == "interrupted" and result.reason == INTERRUPTED_BY_STOP
    assert result.copied == 0
    _no_partial_files(settings)


def test_progress_is_observable_and_safe_to_remove_before_indexing(
    library: Library, settings: Settings, stick: Path
) -> None:
    seen: list[ImportProgress] = []
    holder: list[ImportSession] = []
    indexed: list[list[Path]] = []

    def index(paths: object) -> None:
        indexed.append(list(paths))  # type: ignore[call-overload]
        seen.append(holder[0].progress())

    session = _session(
        library, settings, stick, opener=hook_opener(lambda p: seen.append(holder[0].progress())),
        index=index,
    )  # fmt: skip
    holder.append(session)
    final = session.run()

    copying, at_index = seen[0], seen[-1]
    assert copying.state == "running" and copying.phase == "copying"
    assert not copying.safe_to_remove and copying.found == final.found
    assert at_index.phase == "indexing" and at_index.safe_to_remove
    assert indexed == [[settings.imports_dir / "2024-05-17_stick"]]
    assert final.phase == "finished" and final.rate_bytes_per_s > 0
    from_db = session_progress(library, final.session_id or 0)
    assert (from_db.copied, from_db.state, from_db.safe_to_remove) == (final.copied, "done", True)
    assert [p.session_id for p in recent_imports(library)] == [final.session_id]
    assert import_dirs_to_index(library, settings) == indexed[0]


def test_temp_names_are_invisible_to_the_scanner(tmp_path: Path) -> None:
    folder = tmp_path / "lib" / "imports" / "x"
    folder.mkdir(parents=True)
    (folder / f"{usb_copy.TEMP_PREFIX}0123abcd{usb_copy.TEMP_SUFFIX}").write_bytes(b"partial")
    (folder / f"{usb_copy.TEMP_PREFIX}0123abcd.jpg").write_bytes(b"partial")
    (folder / "real.jpg").write_bytes(b"x")
    assert [f.rel_path for f in scan(tmp_path / "lib").files] == ["imports/x/real.jpg"]


def test_stale_partial_files_are_removed_on_resume(
    library: Library, settings: Settings, stick: Path
) -> None:
    first = _session(library, settings, stick, opener=fault_injecting_opener(10)).run()
    assert first.state == "interrupted"
    dest = settings.imports_dir / "2024-05-17_stick"
    stale = dest / "DCIM" / f"{usb_copy.TEMP_PREFIX}deadbeef{usb_copy.TEMP_SUFFIX}"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"left by a power cut")
    _session(library, settings, stick).run()
    assert not stale.exists()


def test_second_importer_of_same_source_is_refused(
    library: Library, settings: Settings, stick: Path
) -> None:
    with (
        usb_copy.exclusive(settings.imports_dir, request_for_folder(stick).source_key),
        pytest.raises(ImportSessionError, match="already being imported"),
    ):
        _session(library, settings, stick).run()


def test_missing_source_is_an_actionable_error(library: Library, settings: Settings) -> None:
    with pytest.raises(ImportSessionError, match="not a directory"):
        request_for_folder(settings.data_dir / "nope")


@pytest.fixture
def tiny_library_disk(tmp_path: Path) -> Iterator[Settings]:
    """A real 64 KiB tmpfs as the imports folder: a genuinely full library disk (no
    free-space floor, so the copy really hits ENOSPC)."""
    settings = Settings(data_dir=tmp_path / "data", min_free_disk_bytes=0)
    settings.imports_dir.mkdir(parents=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(settings.imports_dir)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root/CAP_SYS_ADMIN): {res.stderr}")
    yield settings
    subprocess.run(["umount", str(settings.imports_dir)], check=True)


def test_full_library_disk_fails_session_with_reason(
    tiny_library_disk: Settings, tmp_path: Path
) -> None:
    stick = tmp_path / "big"
    stick.mkdir()
    for i in range(3):
        (stick / f"p{i}.jpg").write_bytes(bytes([i]) * 10_000)

    def another_writer_fills_the_disk(path: Path) -> None:
        """After the free-space check passed: someone else takes the room (a real ENOSPC)."""
        filler = tiny_library_disk.imports_dir / "filler.bin"
        with contextlib.suppress(OSError), filler.open("ab") as out:
            out.write(b"\0" * 64 * 1024)

    opener = hook_opener(another_writer_fills_the_disk)
    with Library(tiny_library_disk.db_path) as library:
        with pytest.raises(ImportSessionError, match="No space left on device"):
            _session(library, tiny_library_disk, stick, opener=opener).run()
        row = library.list_imports()[0]
    assert row.state == "failed" and "free space" in (row.reason or "")
    _no_partial_files(tiny_library_disk)


def test_the_free_space_floor_pauses_an_import_and_loses_nothing(
    tiny_library_disk: Settings, tmp_path: Path
) -> None:
    """64 KiB tmpfs, floor 16 KiB, three 20 KB photos: two fit above the floor, the third
    would cross it. The import pauses (interrupted, resumable) with the reason; the copies
    made are complete and verified; with room again the same stick finishes."""
    from dataclasses import replace

    settings = replace(tiny_library_disk, min_free_disk_bytes=16 * 1024)
    stick = tmp_path / "three"
    stick.mkdir()
    payloads = {f"p{i}.jpg": bytes([i + 1]) * 20_000 for i in range(3)}
    for name, data in payloads.items():
        (stick / name).write_bytes(data)
    with Library(settings.db_path) as library:
        progress = _session(library, settings, stick).run()
        assert progress.state == "interrupted"
        assert "min_free_disk_bytes" in (progress.reason or "")
        copied = {p.name: p.read_bytes() for p in _library_files(settings)}
        assert 1 <= len(copied) < 3
        assert all(payloads[name] == data for name, data in copied.items())
        _no_partial_files(settings)
        assert {p.name for p in stick.iterdir()} == set(payloads)  # the stick is untouched
        roomy = replace(settings, min_free_disk_bytes=0)
        resumed = _session(library, roomy, stick).run()
    assert resumed.state == "done"
    final = {p.name: p.read_bytes() for p in _library_files(settings)}
    assert final == payloads


def test_a_photo_in_the_trash_is_restored_not_skipped(
    library: Library, settings: Settings, stick: Path
) -> None:
    """Importing a photo again that was moved to the trash brings it back under its old id
    (the import unit has no live index: the library generation tells the daemon)."""
    import numpy as np

    from edge_app.ingest.trash import LibraryTrash
    from edge_app.library.store import PhotoMeta

    rel = "DCIM/100CANON/IMG_0002.JPG"
    kept = settings.library_dir / "2023" / "IMG_0002.JPG"
    kept.parent.mkdir(parents=True)
    shutil.copy2(stick / rel, kept)
    vec = np.ones(8, np.float32) / np.sqrt(8)
    meta = PhotoMeta("2023/IMG_0002.JPG", kept.stat().st_size, 1, sha256(kept))
    [photo_id] = library.record_photos([(meta, vec)], "B1")
    LibraryTrash(settings, library, None).move_in([library.get_photo(photo_id)])
    assert not kept.exists() and library.count_photos() == 0
    generation = library.index_generation()

    final = _session(library, settings, stick).run()

    assert kept.is_file() and library.get_photo(photo_id).rel_path == "2023/IMG_0002.JPG"
    assert library.count_photos() == 1 and library.index_generation() > generation
    assert not (settings.imports_dir / "2024-05-17_stick" / rel).exists()  # not a new copy
    outcome = library.import_files(final.session_id or 0)[rel]
    assert outcome.state == "skipped" and outcome.dest_rel_path == "2023/IMG_0002.JPG"
    assert outcome.reason == "restored from the trash as 2023/IMG_0002.JPG"
    assert final.copied == len(expected_copies()) - 1
