"""Debounce rules and the watcher's status texts (pure functions, real paths)."""

from __future__ import annotations

import errno
import json
from pathlib import Path

from edge_app.watch.debounce import MAX_SCOPES, Debouncer, collapse, event_folder
from edge_app.watch.watcher import filesystem_type, inotify_failure, read_status_file


class Clock:
    """A settable clock: the debouncer's time source (deterministic tests)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_folder_is_due_only_after_it_settled() -> None:
    clock = Clock()
    deb = Debouncer(settle_s=2.0, max_wait_s=30.0, clock=clock)
    deb.touch(Path("/r/a"))
    clock.now = 1.5
    deb.touch(Path("/r/a"))  # still being written
    clock.now = 3.0
    assert deb.due() == []
    clock.now = 3.6
    assert deb.due() == [Path("/r/a")] and deb.pending() == 0


def test_busy_folder_is_flushed_after_max_wait() -> None:
    clock = Clock()
    deb = Debouncer(settle_s=2.0, max_wait_s=10.0, clock=clock)
    for t in range(11):
        clock.now = float(t)
        deb.touch(Path("/r/busy"))
    assert deb.due() == [Path("/r/busy")]


def test_collapse_keeps_outermost_and_caps_at_root() -> None:
    root = Path("/r")
    assert collapse([Path("/r/a/b"), Path("/r/a"), Path("/r/c")], root) == [
        Path("/r/a"),
        Path("/r/c"),
    ]
    many = [Path(f"/r/d{i}") for i in range(MAX_SCOPES + 1)]
    assert collapse(many, root) == [root]


def test_event_folder_ignores_hidden_and_non_photos() -> None:
    root = Path("/r")
    assert event_folder(Path("/r/a/IMG_1.JPG"), False, root) == Path("/r/a")
    assert event_folder(Path("/r/a/.IMG_1.JPG.tmp"), False, root) is None  # rsync temp
    assert event_folder(Path("/r/a/notes.txt"), False, root) is None
    assert event_folder(Path("/r/a/new-folder"), True, root) == Path("/r/a")
    assert event_folder(Path("/elsewhere/x.jpg"), False, root) is None
    assert event_folder(root, True, root) == root


def test_inotify_failure_reasons_name_the_sysctl() -> None:
    limit = inotify_failure(OSError(errno.ENOSPC, "No space left on device"))
    assert "fs.inotify.max_user_watches = " in limit and "APPLIANCE.md" in limit
    assert "max_user_instances" in inotify_failure(OSError(errno.EMFILE, "Too many open files"))


def test_filesystem_type_of_a_local_folder(tmp_path: Path) -> None:
    kind = filesystem_type(tmp_path)
    assert kind is not None and kind not in ("nfs", "nfs4", "cifs")


def test_status_file_roundtrip_and_absence(tmp_path: Path) -> None:
    assert read_status_file(tmp_path) is None
    (tmp_path / "watch-status.json").write_text(json.dumps({"roots": [{"root_id": 1}]}))
    assert read_status_file(tmp_path) == {"roots": [{"root_id": 1}]}
