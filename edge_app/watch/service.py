"""Glue between the daemon's job queue, the root watcher and the indexer.

Why a separate class: the watcher must never write (the indexer thread is the one
writer), so it only *submits* jobs; the job handlers defined here run on the daemon's
job thread and call the indexer with the watcher's settle time, so files still being
written are deferred, then looked at again (`RootWatcher.remind`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_app.errors import PathOutsideLibraryError
from edge_app.indexing.progress import IndexReport
from edge_app.indexing.roots import add_user_root, locate, remove_user_root, root_path
from edge_app.watch.watcher import RootWatcher
from engines.closing import Closing

if TYPE_CHECKING:
    from edge_app.context import AppContext

log = logging.getLogger(__name__)

JobHandler = Callable[[threading.Event, Mapping[str, Any]], Any]
SubmitJob = Callable[..., Any]

WATCH_JOB = "watch-index"
RESCAN_JOB = "rescan"
ROOT_ADD_JOB = "root-add"
ROOT_REMOVE_JOB = "root-remove"


class WatchService(Closing):
    """Owns the `RootWatcher` of a running daemon and its two job kinds."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.watcher: RootWatcher | None = None

    def handlers(self) -> dict[str, JobHandler]:
        """Job kinds to register in the daemon's `JobQueue`."""
        return {
            WATCH_JOB: self._index_paths,
            RESCAN_JOB: self._rescan,
            ROOT_ADD_JOB: self._add_root,
            ROOT_REMOVE_JOB: self._remove_root,
        }

    def start(self, submit_job: SubmitJob) -> RootWatcher:
        """Start following every root; changes become ``submit_job(kind, **params)``."""

        def submit(paths: list[Path] | None) -> None:
            if paths is None:
                submit_job(RESCAN_JOB)
            else:
                submit_job(WATCH_JOB, paths=sorted(str(p) for p in paths))

        self.watcher = RootWatcher(self.ctx.settings, self.ctx.reader.list_roots, submit)
        self.watcher.start()
        return self.watcher

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()

    def _add_root(self, stop: threading.Event, params: Mapping[str, Any]) -> IndexReport:
        """Web form: register (re-checked here, on the writer thread), then index it."""
        root = add_user_root(self.ctx.library, self.ctx.settings, Path(params["path"]))
        assert root.path is not None
        return self._index([root.path], stop, [root.path])

    def _remove_root(self, stop: threading.Event, params: Mapping[str, Any]) -> int:
        """Web form: forget a root's photos (rows, vectors); its folder is never touched."""
        _, ids = remove_user_root(self.ctx.library, str(params["root"]))
        self.ctx.store.current().remove(np.asarray(ids, dtype=np.int64))
        self.ctx.store.save_current(self.ctx.library.index_generation())
        return len(ids)

    def _rescan(self, stop: threading.Event, params: Mapping[str, Any]) -> IndexReport:
        roots = [root_path(r, self.ctx.settings) for r in self.ctx.library.list_roots()]
        return self._index(None, stop, roots)

    def _index_paths(self, stop: threading.Event, params: Mapping[str, Any]) -> IndexReport:
        paths = [Path(p) for p in params["paths"]]
        return self._index(self._existing(paths), stop, paths)

    def _index(
        self, scopes: list[Path] | None, stop: threading.Event, remind: list[Path]
    ) -> IndexReport:
        """Index with the settle time; files still being written are looked at again."""
        report = self.ctx.index_library(scopes, stop, settle_s=self.ctx.settings.watch_settle_s)
        if report.deferred and self.watcher is not None:
            self.watcher.remind(remind)
        return report

    def _existing(self, paths: list[Path]) -> list[Path] | None:
        """Folders gone by now are replaced by their nearest existing parent; a path
        whose root itself is gone means "rescan everything" (None): that marks it offline."""
        out: list[Path] = []
        for path in paths:
            while not path.exists() and path != path.parent:
                path = path.parent
            out.append(path)
        try:
            locate(out, self.ctx.library.list_roots(), self.ctx.settings)
        except PathOutsideLibraryError:
            log.info("event=watch_root_gone paths=%s: rescanning every root", paths)
            return None
        return out
