"""The daemon's OCR job: queued after every re-index, so text is read once embeddings exist,
and at start, so photos indexed by the CLI (or before a restart) are read too."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge_app.context import AppContext

log = logging.getLogger(__name__)

Handler = Callable[[threading.Event, Mapping[str, Any]], Any]


def ocr_handler(ctx: AppContext) -> Handler:
    """Job body: run the OCR pass when enabled and the bundle has OCR models."""

    def run(stop: threading.Event, params: Mapping[str, Any]) -> Any:
        from edge_app.enrich.ocr_pass import run_ocr
        from edge_app.enrich.passes import ocr_pending, ocr_skip_reason

        reason = ocr_skip_reason(ctx.settings)
        if reason is None and not ocr_pending(ctx.library):
            reason = "every indexed photo has been read"
        if reason is not None:
            log.info("event=ocr_skipped reason=%s", reason)
            return None
        report = run_ocr(ctx.settings, ctx.library, stop_event=stop)
        log.info("event=ocr_done %s", report.to_dict())
        return report

    return run


def then_ocr(handler: Handler, submit_ocr: Callable[[], object]) -> Handler:
    """Wrap the re-index job: when it finishes (not stopped), queue the OCR job."""

    def run(stop: threading.Event, params: Mapping[str, Any]) -> Any:
        result = handler(stop, params)
        if not stop.is_set():
            submit_ocr()
        return result

    return run
