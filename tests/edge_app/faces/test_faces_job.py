"""The daemon runs the face pass after a re-index when People is on; never when it is off;
a damaged face model is logged and the daemon's other jobs keep working."""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import pytest

from edge_app.appliance.daemon import JobQueue
from edge_app.context import AppContext
from edge_app.enrich.face_job import faces_handler
from edge_app.enrich.ocr_job import then_ocr
from edge_app.settings import Settings
from edge_app.tags.jobs import index_then_tag_handler
from tests.edge_app.faces.faces_fixtures import write_face_photos


def _run(settings: Settings, enabled: bool) -> dict[str, int]:
    write_face_photos(settings.library_dir)
    with AppContext.open(settings) as ctx:
        ctx.library.set_faces_enabled(enabled)
        jobs = JobQueue(
            {"reindex": then_ocr(index_then_tag_handler(ctx), lambda: jobs.submit("faces")),
             "faces": faces_handler(ctx)},
            threading.Event(),
        )  # fmt: skip
        worker = threading.Thread(target=jobs.run_worker, daemon=True)
        worker.start()
        jobs.submit("reindex")
        for _ in range(1200):
            if len(jobs.snapshot()["recent"]) >= 2:
                break
            threading.Event().wait(0.1)
        recent = [(j["kind"], j["state"]) for j in jobs.snapshot()["recent"]]
        jobs.close()
        worker.join(timeout=10)
        assert recent == [("reindex", "done"), ("faces", "done")]
        return ctx.library.face_counts()


def _settings(tmp_path: Path, bundle: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", bundle_dir=bundle, batch_size=4,
                    decode_workers=1, tag_builtin_sets="")  # fmt: skip


@pytest.mark.parametrize("enabled", [True, False])
def test_face_job_follows_reindex_only_when_on(
    tmp_path: Path, faces_bundle: Path, enabled: bool
) -> None:
    counts = _run(_settings(tmp_path, faces_bundle), enabled)
    assert counts["pending"] == (0 if enabled else 4)
    assert counts["people"] == (1 if enabled else 0)


def test_damaged_model_is_logged_not_fatal(
    tmp_path: Path, faces_bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(faces_bundle, bundle)
    (bundle / "faces" / "faces.json").write_text("{broken")
    with caplog.at_level(logging.ERROR):
        counts = _run(_settings(tmp_path, bundle), True)
    assert counts["pending"] == 4
    assert any(
        "faces_failed" in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records
    )
