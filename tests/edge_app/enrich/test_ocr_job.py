"""The daemon's job queue runs OCR after each re-index (embeddings first), with the real models."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from edge_app.appliance.daemon import JobQueue
from edge_app.context import AppContext
from edge_app.enrich.ocr_job import ocr_handler, then_ocr
from edge_app.settings import Settings
from edge_app.tags.jobs import index_then_tag_handler
from tests.edge_app.enrich.ocr_fixtures import write_text_photos


def _run_jobs(settings: Settings) -> tuple[list[dict[str, Any]], dict[str, int], list[str]]:
    """Queue one re-index like `serve` does; returns finished jobs, OCR counts, photo states."""
    write_text_photos(settings.library_dir)
    with AppContext.open(settings) as ctx:
        seen: list[str] = []
        inner = index_then_tag_handler(ctx)  # the `reindex` job `serve` registers

        def reindex(stop: threading.Event, params: Any) -> Any:
            result = inner(stop, params)
            seen.append(f"searchable={ctx.library.count_embeddings(ctx.encoder.bundle_id)}")
            seen.append(f"read={sum(ctx.library.ocr_counts()[s] for s in ('done', 'no_text'))}")
            return result

        jobs = JobQueue(
            {"reindex": then_ocr(reindex, lambda: jobs.submit("ocr")), "ocr": ocr_handler(ctx)},
            threading.Event(),
        )
        worker = threading.Thread(target=jobs.run_worker, daemon=True)
        worker.start()
        jobs.submit("reindex")
        deadline = time.monotonic() + 120
        while len(jobs.snapshot()["recent"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        recent = jobs.snapshot()["recent"]
        jobs.close()
        worker.join(timeout=10)
        return recent, ctx.library.ocr_counts(), seen


def _settings(tmp_path: Path, bundle: Path, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", bundle_dir=bundle, batch_size=4,
                    decode_workers=1, tag_builtin_sets="", **extra)  # fmt: skip


def test_ocr_job_follows_reindex(tmp_path: Path, ocr_bundle: Path) -> None:
    recent, counts, seen = _run_jobs(_settings(tmp_path, ocr_bundle))
    assert [(j["kind"], j["state"]) for j in recent] == [("reindex", "done"), ("ocr", "done")]
    assert seen == ["searchable=5", "read=0"]  # every photo searchable before any OCR
    assert counts == {"done": 4, "no_text": 1, "failed": 0, "pending": 0}


@pytest.mark.parametrize("case", ["disabled", "no-ocr-bundle"])
def test_ocr_job_is_skipped_without_ocr(
    tmp_path: Path, ocr_bundle: Path, tiny_bundle: Path, case: str
) -> None:
    settings = _settings(tmp_path, tiny_bundle if case == "no-ocr-bundle" else ocr_bundle)
    if case == "disabled":
        settings = dataclasses.replace(settings, ocr_enabled=False)
    recent, counts, _ = _run_jobs(settings)
    assert [(j["kind"], j["state"]) for j in recent] == [("reindex", "done"), ("ocr", "done")]
    assert counts["pending"] == 5 and counts["done"] == 0
