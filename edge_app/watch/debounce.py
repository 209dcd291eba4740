"""Debounce and batch file-system events into a few index jobs.

Why folders, not files: the indexer's size + mtime rescan of a folder costs a ``stat``
per file, and it is the one place that knows moves (a deletion and a creation seen in the
same pass keep the photo id) and deletions. So each event only marks its *folder* dirty;
a dirty folder is handed on once no event touched it for ``settle_s`` (a file still being
written keeps producing events, so it is not read half-written), or after ``max_wait_s``
at the latest (a camera copying for minutes: its finished files still show up; the ones
still growing are deferred by the indexer's mtime check). 10 000 files dropped at once
become one dirty folder, hence one job whose decode/encode runs in batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: More dirty folders than this in one root: rescan the whole root instead.
MAX_SCOPES = 64


@dataclass
class _Dirty:
    first: float
    last: float


class Debouncer:
    """Thread-safe set of dirty folders with their first/last event times."""

    def __init__(self, settle_s: float, max_wait_s: float, clock: Callable[[], float]) -> None:
        self.settle_s = settle_s
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._lock = threading.Lock()
        self._dirty: dict[Path, _Dirty] = {}

    def touch(self, folder: Path) -> None:
        """An event happened in ``folder`` (an absolute path inside a root)."""
        now = self._clock()
        with self._lock:
            entry = self._dirty.get(folder)
            if entry is None:
                self._dirty[folder] = _Dirty(now, now)
            else:
                entry.last = now

    def pending(self) -> int:
        with self._lock:
            return len(self._dirty)

    def due(self) -> list[Path]:
        """Folders that settled (or waited too long), removed from the dirty set."""
        now = self._clock()
        with self._lock:
            ready = [
                folder
                for folder, d in self._dirty.items()
                if now - d.last >= self.settle_s or now - d.first >= self.max_wait_s
            ]
            for folder in ready:
                del self._dirty[folder]
        return ready


def collapse(folders: list[Path], root: Path) -> list[Path]:
    """Drop folders inside another listed one; too many -> the root itself."""
    ordered = sorted(set(folders), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for folder in ordered:
        if not any(folder.is_relative_to(k) for k in kept):
            kept.append(folder)
    return [root] if len(kept) > MAX_SCOPES or root in kept else sorted(kept)


def event_folder(path: Path, is_directory: bool, root: Path) -> Path | None:
    """The folder an event makes dirty, or None when it cannot matter.

    A file event dirties its parent; a folder event (created, moved, deleted) its parent
    too, so the indexer sees everything that appeared or vanished with it. Hidden names
    (editor and rsync temporaries) are ignored: the scanner never indexes them.
    """
    if not path.is_relative_to(root) or path == root:
        return root if path == root else None
    if path.name.startswith("."):
        return None
    if not is_directory:
        from edge_app.indexing.scanner import is_photo_name

        if not is_photo_name(path.name):
            return None
    return path.parent
