"""The daemon's face job: queued after OCR is queued, so faces are found once embeddings exist."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from edge_app.enrich.ocr_job import Handler
from engines.errors import FaceModelError

if TYPE_CHECKING:
    from edge_app.context import AppContext

log = logging.getLogger(__name__)


def faces_handler(ctx: AppContext) -> Handler:
    """Job body: run the face pass when People is on; a damaged model is logged, not fatal."""

    def run(stop: threading.Event, params: Mapping[str, Any]) -> Any:
        from edge_app.enrich.face_pass import run_faces

        if not ctx.library.faces_enabled():
            log.info("event=faces_skipped reason=People is off")
            return None
        try:
            report = run_faces(ctx.settings, ctx.library, stop_event=stop)
        except FaceModelError as exc:
            log.error("event=faces_failed reason=%s", exc)
            return None
        log.info("event=faces_done %s", report.to_dict())
        return report

    return run
