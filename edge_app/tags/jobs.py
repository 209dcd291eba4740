"""The daemon's tagging jobs: after every indexing run, and after a label set changes.

Why jobs: the daemon's job queue runs one job at a time on the ``edge-jobs`` thread,
which is the library's only bulk writer; tagging there never races indexing. New photos
get tags because indexing bumps the index generation, which makes every set stale.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from edge_app.tags.admin import builtin_names, install_builtin

if TYPE_CHECKING:
    from edge_app.context import AppContext
    from edge_app.tags.tagger import TagRun

log = logging.getLogger(__name__)

Handler = Callable[[threading.Event, Mapping[str, Any]], Any]


def tag_library(ctx: AppContext, stop: threading.Event | None = None) -> list[TagRun]:
    """Install the configured built-in sets (once), then re-tag every stale set."""
    for name in builtin_names(ctx.settings.tag_builtin_sets):
        install_builtin(ctx.library, name)
    return ctx.tagger.retag_stale(stop)


def tags_handler(ctx: AppContext) -> Handler:
    """Job ``tags``: re-tag stale sets (queued by the label-set API)."""

    def run(stop: threading.Event, params: Mapping[str, Any]) -> Any:
        return tag_library(ctx, stop)

    return run


def index_then_tag_handler(ctx: AppContext) -> Handler:
    """Job ``reindex``: index new/changed photos, then tag them (unless stopping)."""

    def run(stop: threading.Event, params: Mapping[str, Any]) -> Any:
        report = ctx.index_library(stop_event=stop)
        if not stop.is_set():
            tag_library(ctx, stop)
        return report

    return run
