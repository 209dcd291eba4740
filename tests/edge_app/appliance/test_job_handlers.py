"""The daemon's job table: jobs that embed photos are followed by tags, OCR, then faces."""

from __future__ import annotations

import threading
from pathlib import Path

from edge_app.appliance.daemon import job_handlers
from edge_app.context import AppContext
from edge_app.watch.service import RESCAN_JOB, WATCH_JOB, WatchService
from tests.edge_app.appliance.conftest import empty_library
from tests.edge_app.watch.harness import write_jpeg


def test_watched_changes_are_tagged_and_read_like_a_reindex(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    settings = empty_library(tmp_path, tiny_bundle, watch_settle_s=0.0)
    queued: list[str] = []
    with AppContext.open(settings) as ctx:
        handlers = job_handlers(ctx, WatchService(ctx), queued.append)
        assert {"reindex", "tags", "ocr", "faces", WATCH_JOB, RESCAN_JOB} <= set(handlers)
        stop = threading.Event()
        handlers[RESCAN_JOB](stop, {})  # an empty library: nothing embedded, nothing queued
        assert queued == []
        photo = write_jpeg(settings.library_dir / "new.jpg", seed=3)
        report = handlers[WATCH_JOB](stop, {"paths": [str(photo)]})
        assert report.encoded == 1 and queued == ["tags", "ocr", "faces"]
        handlers[WATCH_JOB](stop, {"paths": [str(photo)]})  # unchanged: nothing more
        assert queued == ["tags", "ocr", "faces"]
