"""Watch every photo root and turn changes into index jobs (never writing itself).

Why ``watchdog``: it is the maintained, widely used wrapper over the kernel's change
notification (inotify on Linux, recursive, new sub-folders watched as they appear) and
ships a polling observer with the *same* event API, so the fallback shares every line
after event delivery (debounce, batching, jobs). ``inotify_simple`` would need a hand-
written recursive watch manager and a hand-written poller. The polling observer is used
with ``lstat`` (``PollingObserverVFS``) so links are never followed there either.

Per root the watcher picks a mode and says why (``status()``, also written to
``<data_dir>/watch-status.json`` for ``edge-app roots list``):

* ``watching``: inotify;
* ``polling``: ``watch_mode = "poll"``, a network filesystem (inotify only sees changes
  made by this machine), or inotify refused (watch limit ``fs.inotify.max_user_watches``
  reached, too many instances);
* ``off``: ``watch_mode = "off"``; ``offline``: the folder is missing/unmounted.

Single-writer rule: events only mark folders dirty (`Debouncer`); settled folders are
passed to ``submit`` (the daemon's job queue), and the indexer thread does the writing.
A root that vanishes or comes back triggers a rescan job, which moves it offline/online.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserverVFS

from edge_app.indexing.root_scan import absence_reason
from edge_app.indexing.roots import root_path
from edge_app.library.roots import Root
from edge_app.settings import Settings
from edge_app.watch.debounce import Debouncer, collapse, event_folder
from engines.closing import Closing

log = logging.getLogger(__name__)

STATUS_FILE = "watch-status.json"
NETWORK_FS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "davfs"}
)
_IGNORED_EVENTS = frozenset({"opened", "closed_no_write", "attrib"})  # reads, atime

#: ``submit(paths)``: index these folders; ``submit(None)``: rescan every root.
Submit = Callable[[list[Path] | None], None]


@dataclass
class WatchState:
    """How one root is followed right now (what status pages show)."""

    root_id: int
    path: str
    mode: str  # watching | polling | off | offline
    reason: str | None = None


class _Handler(FileSystemEventHandler):
    """watchdog thread: map each event to a dirty folder; nothing else."""

    def __init__(self, root: Path, debouncer: Debouncer) -> None:
        self.root = root
        self.debouncer = debouncer

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _IGNORED_EVENTS:
            return
        for raw in (event.src_path, event.dest_path):
            if raw:
                folder = event_folder(Path(os.fsdecode(raw)), event.is_directory, self.root)
                if folder is not None:
                    self.debouncer.touch(folder)


class RootWatcher(Closing):
    """Follows the roots listed by ``list_roots`` (re-read every ``presence_s``)."""

    def __init__(
        self,
        settings: Settings,
        list_roots: Callable[[], Sequence[Root]],
        submit: Submit,
        *,
        tick_s: float = 0.2,
        presence_s: float = 1.0,
        max_wait_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self._list_roots = list_roots
        self._submit = submit
        self._tick_s, self._presence_s = tick_s, presence_s
        self.debouncer = Debouncer(settings.watch_settle_s, max_wait_s, time.monotonic)
        self._states: dict[int, WatchState] = {}
        self._observers: dict[int, BaseObserver] = {}
        self._bases: dict[int, Path] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Watch the roots now (synchronously, so status is known), then keep following."""
        self._sync_roots()
        self._thread = threading.Thread(target=self._loop, name="edge-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for root_id in list(self._observers):
            self._unwatch(root_id)

    def status(self) -> list[WatchState]:
        with self._lock:
            return [WatchState(**asdict(s)) for s in self._states.values()]

    def remind(self, paths: Sequence[Path]) -> None:
        """Look at these folders again once settled (files were still being written)."""
        for path in paths:
            self.debouncer.touch(Path(path))

    # ----------------------------------------------------------------- the loop
    def _loop(self) -> None:
        next_presence = time.monotonic() + self._presence_s
        while not self._stop.wait(self._tick_s):
            if time.monotonic() >= next_presence:
                self._sync_roots()
                next_presence = time.monotonic() + self._presence_s
            self._flush()

    def _flush(self) -> None:
        """Hand settled folders on: one job per pass, folders collapsed per root."""
        due = self.debouncer.due()
        if not due:
            return
        if any(not self._base_of(f) for f in due):
            self._sync_roots()  # a root added a moment ago
        scopes: list[Path] = []
        for root_id, base in list(self._bases.items()):
            mine = [f for f in due if f.is_relative_to(base)]
            if mine and self._states[root_id].mode != "offline":
                scopes += collapse(mine, base)
        for folder in due:
            if not self._base_of(folder):
                log.info("event=watch_ignored folder=%s reason=not in a watched root", folder)
        if scopes:
            log.info("event=watch_changes folders=%d", len(scopes))
            self._submit(scopes)

    def _base_of(self, folder: Path) -> bool:
        return any(folder.is_relative_to(b) for b in list(self._bases.values()))

    def _sync_roots(self) -> None:
        """Start/stop watches as roots are added, removed, unplugged or plugged back."""
        roots = {r.id: r for r in self._list_roots()}
        for root_id in [i for i in self._observers if i not in roots]:
            self._unwatch(root_id)
        with self._lock:
            for root_id in [i for i in self._states if i not in roots]:
                del self._states[root_id]
        changed = False
        for root in roots.values():
            changed |= self._sync_root(root)
        if changed:
            self._write_status()

    def _sync_root(self, root: Root) -> bool:
        """Returns True when the root's watch state changed."""
        base = root_path(root, self.settings)
        reason = None if root.is_library else absence_reason(base, root.photos)
        before = self._states.get(root.id)
        if reason is not None:
            if before is not None and before.mode == "offline":
                return False
            self._unwatch(root.id)
            self._set(WatchState(root.id, str(base), "offline", reason))
            if root.online:
                self._submit(None)  # the rescan marks it offline (the indexer writes)
            return True
        if before is not None and before.mode != "offline":
            return False
        self._set(self._watch(root.id, base))
        if (before is not None or not root.online or root.last_scan_at is None) and (
            not root.is_library
        ):
            self._submit(None)  # new, or back: the rescan brings it online, nothing re-encoded
        return True

    # --------------------------------------------------------------- observers
    def _watch(self, root_id: int, base: Path) -> WatchState:
        mode = self.settings.watch_mode
        if mode == "off":
            return WatchState(root_id, str(base), "off", "watch_mode = off")
        if mode == "poll":
            return self._poll(root_id, base, "watch_mode = poll")
        fstype = filesystem_type(base)
        if fstype in NETWORK_FS or (fstype or "").startswith("fuse.sshfs"):
            return self._poll(
                root_id, base, f"network filesystem ({fstype}): inotify cannot see remote changes"
            )
        try:
            self._start_observer(root_id, base, Observer())
        except OSError as exc:
            return self._poll(root_id, base, inotify_failure(exc))
        return WatchState(root_id, str(base), "watching", "inotify")

    def _poll(self, root_id: int, base: Path, why: str) -> WatchState:
        interval = self.settings.poll_interval_s
        observer = PollingObserverVFS(stat=os.lstat, listdir=os.scandir, polling_interval=interval)
        self._start_observer(root_id, base, observer)
        return WatchState(root_id, str(base), "polling", f"{why}; every {interval:g} s")

    def _start_observer(self, root_id: int, base: Path, observer: BaseObserver) -> None:
        observer.schedule(_Handler(base, self.debouncer), str(base), recursive=True)
        observer.daemon = True
        try:
            observer.start()
        except BaseException:
            observer.stop()
            raise
        self._observers[root_id] = observer
        self._bases[root_id] = base

    def _unwatch(self, root_id: int) -> None:
        observer = self._observers.pop(root_id, None)
        self._bases.pop(root_id, None)
        if observer is not None:
            observer.stop()
            observer.join(timeout=10)

    def _set(self, state: WatchState) -> None:
        log.info(
            "event=watch_state root=%s mode=%s reason=%r", state.path, state.mode, state.reason
        )
        with self._lock:
            self._states[state.root_id] = state

    def _write_status(self) -> None:
        """For ``edge-app roots list`` in another process (atomic replace)."""
        data = {
            "pid": os.getpid(),
            "updated": time.time(),
            "roots": [asdict(s) for s in self.status()],
        }
        target = self.settings.data_dir / STATUS_FILE
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(target)


def inotify_failure(exc: OSError) -> str:
    """Human reason why inotify could not watch a root (the status line)."""
    if exc.errno == errno.ENOSPC:
        limit = _read_sysctl("/proc/sys/fs/inotify/max_user_watches")
        return (
            f"inotify watch limit reached (fs.inotify.max_user_watches = {limit}): raise it "
            "(see docs/APPLIANCE.md)"
        )
    if exc.errno == errno.EMFILE:
        return "too many inotify instances (raise fs.inotify.max_user_instances)"
    return f"inotify unavailable ({exc.strerror or exc})"


def _read_sysctl(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except OSError:
        return "unknown"


def filesystem_type(path: Path) -> str | None:
    """The filesystem type of the mount holding ``path`` (from /proc/self/mounts)."""
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    real, best, kind = path.resolve(), -1, None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount = Path(fields[1].replace("\\040", " "))
        if real.is_relative_to(mount) and len(mount.parts) > best:
            best, kind = len(mount.parts), fields[2]
    return kind


def read_status_file(data_dir: Path) -> dict[str, Any] | None:
    """What the daemon last wrote (None when it never ran); the CLI shows it."""
    try:
        data: dict[str, Any] = json.loads((data_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data
