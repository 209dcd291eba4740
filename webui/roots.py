"""Photo roots on the web: the admin's section of the Library page, and ``/api/roots``.

Why writes go through the job queue: the daemon's job thread is the one writer. The
form is checked here first (same `validate_root` checks, so a bad folder gets its clear
message at once), then a ``root-add``/``root-remove`` job does the write. Works without
JavaScript (plain forms, CSRF token) and never serves anything from outside the LAN box.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from edge_app.errors import ConfigError
from webui.auth import admin_only
from webui.state import web_state

bp = Blueprint("roots", __name__)
WATCH_EXTENSION = "edge_watch"


def photo_roots() -> list[dict[str, Any]]:
    """Per-root status: online/offline, photos, watching/polling and why, last scan."""
    from edge_app.cli.roots import roots_status

    state = web_state()
    ctx = state.context
    rows = roots_status(state.settings, ctx.reader)
    watch = _watch()
    if watch is not None and watch.watcher is not None:
        live = {s.root_id: s for s in watch.watcher.status()}
        for row in rows:
            if row["id"] in live:
                row["watch"], row["watch_reason"] = live[row["id"]].mode, live[row["id"]].reason
    return rows


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"photo_roots": photo_roots}


@bp.get("/api/roots")
def api_roots() -> Response:
    return jsonify({"roots": photo_roots()})


@bp.post("/library/roots/add")
@admin_only
def add() -> BaseResponse | tuple[str, int]:
    from edge_app.indexing.roots import validate_root

    state = web_state()
    path = (request.form.get("path") or "").strip()
    if not path:
        return _problem("Give the folder to add, e.g. /mnt/nas/photos.", 400)
    others = [Path(r["path"]) for r in photo_roots()]
    try:
        validate_root(Path(path), state.settings, others)
    except ConfigError as exc:
        return _problem(str(exc), 400)
    return _submit("root-add", path=path)


@bp.post("/library/roots/remove")
@admin_only
def remove() -> BaseResponse | tuple[str, int]:
    return _submit("root-remove", root=(request.form.get("root") or "").strip())


def _submit(kind: str, **params: Any) -> BaseResponse | tuple[str, int]:
    jobs = web_state().jobs
    if jobs is None:
        return _problem("Background jobs run only under `edge-app serve`.", 503)
    jobs.submit(kind, **params)
    return redirect(url_for("views.library"))


def _problem(message: str, status: int) -> tuple[str, int]:
    title = "Cannot add this folder" if status == 400 else "Unavailable"
    return render_template("error.html", title=title, message=message), status


def _watch() -> Any:
    from flask import current_app

    return current_app.extensions.get(WATCH_EXTENSION)
