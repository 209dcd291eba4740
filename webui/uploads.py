"""Upload photos from the browser (admin only): ``/upload`` (page + no-JS form) and
``POST /api/uploads`` (one or more files; `app.js` sends one file per request to show
per-file progress).

The bytes go through `edge_app.ingest.upload.UploadSaver` (the USB import's verified copy
steps); indexing is then queued on the daemon's job queue, or run inline when the app
runs without the daemon (tests, `flask run`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from werkzeug.datastructures import FileStorage

from edge_app.errors import QueryError
from edge_app.ingest.disk import check_free_space
from edge_app.ingest.trash import LibraryTrash
from edge_app.ingest.upload import UploadLedger, UploadOutcome, UploadSaver
from webui import services
from webui.auth import ROLE_ADMIN, admin_only, json_error
from webui.sessions import charge_upload
from webui.state import WebState, web_state

log = logging.getLogger(__name__)

bp = Blueprint("uploads", __name__)

FIELD = "files"
_LEDGER_KEY = "edge_uploads"
_FORM_OVERHEAD = 1 << 20
_REQUEST_MAX = 1 << 30
MAX_FILES_PER_REQUEST = 500


def request_limit(state: WebState) -> int:
    """Bytes one upload request may carry: many photos in the no-JS form, but never more
    than 1 GiB."""
    photo = state.settings.max_photo_upload_bytes + _FORM_OVERHEAD
    return max(
        photo, min(20 * state.settings.max_photo_upload_bytes + _FORM_OVERHEAD, _REQUEST_MAX)
    )


def _raise_size_limit() -> None:
    """Photos are bigger than search-by-image uploads: this blueprint's own limit.

    An app-level hook placed FIRST (see `_install`): the CSRF check reads the form, and
    the body must be parsed under this limit, not the app's search-upload one.
    """
    if request.blueprint == bp.name:
        request.max_content_length = request_limit(web_state())


@bp.record_once
def _install(setup: Any) -> None:
    setup.app.before_request_funcs.setdefault(None, []).insert(0, _raise_size_limit)


def _ledger() -> UploadLedger:
    ledger: UploadLedger = current_app.extensions.setdefault(_LEDGER_KEY, UploadLedger())
    return ledger


def index_soon(state: WebState) -> dict[str, Any] | None:
    """Index what changed on disk: a queued job under the daemon, else right now."""
    if state.jobs is not None:
        try:
            return state.jobs.submit("reindex")
        except RuntimeError as exc:
            log.warning("event=index_not_queued reason=%s", exc)
            return None
    services.index_now(state.context)
    return None


def save_files(state: WebState, files: Iterable[FileStorage]) -> list[UploadOutcome]:
    """Save every uploaded file; the per-file outcome says saved / duplicate / restored
    (from the trash, under its old id) / error."""
    incoming = request.content_length or 0
    check_free_space(state.settings.library_dir, state.settings.min_free_disk_bytes, incoming)
    charge_upload(incoming, ROLE_ADMIN)
    ctx = state.context
    trash = LibraryTrash(state.settings, ctx.library, ctx.store)
    saver = UploadSaver(
        state.settings,
        lambda sha: services.content_known(ctx, sha),
        _ledger(),
        restore_trashed=trash.restore_content,
    )
    limit = state.settings.max_photo_upload_bytes
    return [saver.save(f.stream, f.filename or "", limit) for f in files]


def summary(outcomes: list[UploadOutcome]) -> dict[str, int]:
    """Counts by outcome, for the page and the API."""
    return {
        k: sum(1 for o in outcomes if o.status == s)
        for k, s in (
            ("saved", "saved"),
            ("duplicates", "duplicate"),
            ("restored", "restored"),
            ("errors", "error"),
        )
    }


def _files() -> list[FileStorage]:
    files = [f for f in request.files.getlist(FIELD) if f.filename]
    if len(files) > MAX_FILES_PER_REQUEST:
        raise QueryError(
            f"{len(files)} files in one upload; at most {MAX_FILES_PER_REQUEST}, send the rest next"
        )
    return files


def _handle() -> tuple[list[UploadOutcome], dict[str, Any] | None]:
    state = web_state()
    outcomes = save_files(state, _files())
    job = index_soon(state) if any(o.status == "saved" for o in outcomes) else None
    return outcomes, job


@bp.get("/upload")
@admin_only
def upload_page() -> str:
    """The upload page: photo picker, folder picker, drop zone (works without JS)."""
    return render_template("upload.html", outcomes=None, counts=None, limits=_limits())


@bp.post("/upload")
@admin_only
def upload_form() -> tuple[str, int]:
    """No-JS fallback: the form posts every chosen file; the page lists each outcome."""
    if not _files():
        return render_template(
            "upload.html",
            outcomes=None,
            counts=None,
            limits=_limits(),
            error="Choose at least one photo to upload.",
        ), 400
    outcomes, _job = _handle()
    counts = summary(outcomes)
    return render_template("upload.html", outcomes=outcomes, counts=counts, limits=_limits()), 200


@bp.post("/api/uploads")
@admin_only
def api_upload() -> Response | tuple[Response, int]:
    """JSON: ``files`` (multipart, one or more) -> per-file outcomes and counts."""
    if not _files():
        return json_error(f"send one or more photos as multipart field {FIELD!r}", 400)
    outcomes, job = _handle()
    return jsonify(files=[o.to_json() for o in outcomes], **summary(outcomes), job=job)


def _limits() -> dict[str, Any]:
    settings = web_state().settings
    return {
        "max_bytes": settings.max_photo_upload_bytes,
        "max_mb": round(settings.max_photo_upload_bytes / 1e6),
    }
