"""Duplicates review and the library trash (``/duplicates``, ``/trash``, ``/api/trash``).

Why a blueprint apart from `webui.views`: trashing moves files, the one place the web UI
changes the photo folder, and all of it is admin only. Nothing is deleted by one click:
"Move to trash" moves the file into ``<library>/.trash`` (restorable); only the explicit
"Empty trash" (a confirmation page, then a POST with ``confirm=yes``) deletes. A trashed
photo leaves search and the timeline at once and a restore brings it back under its id
(`edge_app.ingest.trash.LibraryTrash`); only an item trashed by an older release is
re-indexed (`webui.uploads.index_soon`).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers.response import Response as BaseResponse

from edge_app.errors import NotFoundError, QueryError
from edge_app.ingest.trash import LibraryTrash, Trash, TrashItem
from edge_app.search.query import MAX_PHOTO_ID
from webui import near_duplicates, services
from webui.auth import admin_only
from webui.state import WebState, web_state
from webui.uploads import index_soon

bp = Blueprint("trash", __name__)


def _trash(state: WebState) -> Trash:
    return Trash(state.settings.library_dir)


def _library_trash(state: WebState) -> LibraryTrash:
    ctx = state.context
    return LibraryTrash(state.settings, ctx.library, ctx.store)


def _restore(state: WebState, token: str) -> str:
    rel_path, kept_id = _library_trash(state).restore(token)
    if not kept_id:
        index_soon(state)
    return rel_path


def review_groups(state: WebState, threshold: float) -> list[dict[str, Any]]:
    """Duplicate groups with each photo's name, alt text and details for the review page."""
    ctx = state.context
    out = []
    for group in near_duplicates.duplicate_groups(ctx, threshold):
        members = [services.PhotoInfo(photo=p) for p in services.photos_by_id(ctx, group.ids)]
        out.append({"ids": group.ids, "score": group.score, "photos": members})
    return out


def duplicates_page() -> str | tuple[str, int]:
    """``/duplicates?threshold=``: the review page (rendered for `views.duplicates`)."""
    state = web_state()
    raw = request.args.get("threshold")
    try:
        threshold = near_duplicates.parse_threshold(raw, state.settings)
    except QueryError as exc:
        threshold = float(state.settings.duplicate_threshold)
        groups = review_groups(state, threshold)
        return render_template(
            "duplicates.html", groups=groups, threshold=threshold, error=str(exc)
        ), 400
    groups = review_groups(state, threshold)
    return render_template("duplicates.html", groups=groups, threshold=threshold, error=None)


def _photo_ids(values: list[Any]) -> list[int]:
    try:
        ids = [int(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise QueryError("photo ids must be whole numbers") from exc
    if not ids:
        raise QueryError("choose at least one photo to move to the trash")
    return ids


def _is_photo_id(value: Any) -> bool:
    """A JSON photo id: an integer (not a bool or float) SQLite can hold; a bigger one
    reached sqlite3 as an OverflowError (a 500)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PHOTO_ID


def move_to_trash(state: WebState, ids: list[int]) -> list[TrashItem]:
    """Trash the files of ``ids`` (unknown id -> 404 before anything moves)."""
    photos = services.photos_by_id(state.context, ids)
    missing = sorted(set(ids) - {p.id for p in photos})
    if missing:
        raise NotFoundError(f"photo {missing[0]} does not exist; nothing was moved")
    return _library_trash(state).move_in(photos)


def _back(default: str) -> str:
    """Return to the review page the form came from (same-site paths only)."""
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


@bp.post("/trash")
@admin_only
def trash_form() -> BaseResponse:
    """No-JS "Move to trash" / "Keep only this" buttons of the review page."""
    move_to_trash(web_state(), _photo_ids(request.form.getlist("photo_id")))
    return redirect(_back(url_for("trash.trash_page")))


@bp.get("/trash")
@admin_only
def trash_page() -> str:
    """What is in the trash, with restore buttons and the way to empty it."""
    return render_template("trash.html", items=_trash(web_state()).items())


@bp.post("/trash/<token>/restore")
@admin_only
def restore_form(token: str) -> BaseResponse:
    _restore(web_state(), token)
    return redirect(url_for("trash.trash_page"))


@bp.get("/trash/<token>/thumb")
@admin_only
def trashed_thumb(token: str) -> BaseResponse:
    """A small JPEG of a trashed photo (its indexed thumbnail may already be gone)."""
    state = web_state()
    path = _trash(state).file_of(token)
    jpeg = services.file_jpeg(path, 256, state.settings)
    return send_file(jpeg, mimetype="image/jpeg", max_age=0)


@bp.route("/trash/empty", methods=["GET", "POST"])
@admin_only
def empty_form() -> BaseResponse | str | tuple[str, int]:
    """GET: the confirmation page. POST with ``confirm=yes``: delete for good."""
    trash = _trash(web_state())
    if request.method == "GET":
        return render_template("trash_empty.html", count=len(trash.items()), error=None)
    if request.form.get("confirm") != "yes":
        error = "Tick the box to confirm that the photos are deleted for good."
        return render_template("trash_empty.html", count=len(trash.items()), error=error), 400
    _library_trash(web_state()).empty()
    return redirect(url_for("trash.trash_page"))


# ------------------------------------------------------------------ JSON
@bp.get("/api/trash")
@admin_only
def api_list() -> Response:
    return jsonify(items=[i.to_json() for i in _trash(web_state()).items()])


@bp.post("/api/trash")
@admin_only
def api_move() -> Response:
    body = request.get_json(silent=True)
    raw = body.get("photo_ids") if isinstance(body, dict) else None
    if not isinstance(raw, list) or not all(_is_photo_id(v) for v in raw):
        raise QueryError('body must be JSON {"photo_ids": [1, 2]} (whole numbers)')
    items = move_to_trash(web_state(), _photo_ids(raw))
    return jsonify(items=[i.to_json() for i in items])


@bp.post("/api/trash/<token>/restore")
@admin_only
def api_restore(token: str) -> Response:
    return jsonify(token=token, rel_path=_restore(web_state(), token))


@bp.post("/api/trash/empty")
@admin_only
def api_empty() -> Response:
    body = request.get_json(silent=True)
    if not (isinstance(body, dict) and body.get("confirm") is True):
        raise QueryError('emptying the trash deletes for good: send {"confirm": true}')
    return jsonify(deleted=_library_trash(web_state()).empty())
