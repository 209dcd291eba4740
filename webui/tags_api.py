"""JSON API for tags and label sets (documented in docs/API.md, "Tags").

Reads are open to whoever may search; every write is admin-only and CSRF-checked like
the rest of the API. Label-set writes answer with the stored set and the queued
re-tagging job (photos are re-tagged from stored embeddings, never re-encoded).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from edge_app.errors import NotFoundError
from edge_app.search.query import MAX_PHOTO_ID
from webui import tag_services
from webui.api import _int_arg
from webui.auth import admin_only
from webui.state import web_state

bp = Blueprint("tags_api", __name__, url_prefix="/api")


def _body() -> Any:
    """The JSON body; example photo ids no SQLite integer can hold are a 404 here (they
    reached sqlite3 as an OverflowError, a 500). The rest is validated by edge_app.tags."""
    body = request.get_json(silent=True)
    labels = body.get("labels") if isinstance(body, dict) else None
    for label in labels if isinstance(labels, list) else []:
        examples = label.get("examples") if isinstance(label, dict) else None
        for x in examples if isinstance(examples, list) else []:
            if isinstance(x, int) and not 0 <= x <= MAX_PHOTO_ID:
                raise NotFoundError(f"example photos [{x}] do not exist: pick indexed photos")
    return body


@bp.get("/tags")
def tags() -> Response:
    """Every tag with its photo count and cover photo, and the tag totals."""
    state = web_state()
    counts = tag_services.tag_counts(state)
    return jsonify(tags=[t.to_json() for t in counts], totals=state.context.reader.tag_totals())


@bp.get("/tags/<path:name>/photos")
def tag_photos(name: str) -> Response:
    """Photos with one tag, best calibrated score first: ``?limit&offset``."""
    limit = _int_arg("limit", 24, 1, 200)
    offset = _int_arg("offset", 0, 0, 100_000)
    hits, total = tag_services.tagged_photos(web_state(), name, limit, offset)
    return jsonify(
        tag=name, total=total, offset=offset, limit=limit,
        results=[h.to_json() for h in hits], has_more=offset + len(hits) < total,
    )  # fmt: skip


@bp.get("/photos/<int:photo_id>/tags")
def photo_tags(photo_id: int) -> Response:
    """The tags of one photo (set, label, calibrated score), best first."""
    web_state().context.reader.get_photo(photo_id)  # 404 for an unknown photo
    return jsonify(photo_id=photo_id, tags=tag_services.photo_tags(web_state(), photo_id))


@bp.get("/label-sets")
def label_sets() -> Response:
    return jsonify(sets=[s.to_json() for s in tag_services.label_sets(web_state())])


@bp.get("/label-sets/<int:set_id>")
def label_set(set_id: int) -> Response:
    return jsonify(tag_services.label_set(web_state(), set_id).to_json())


@bp.post("/label-sets")
@admin_only
def create_label_set() -> tuple[Response, int]:
    """JSON ``{"name", "description"?, "labels": [...]}`` -> 201 with the set and its job."""
    return jsonify(tag_services.create(web_state(), _body())), 201


@bp.put("/label-sets/<int:set_id>")
@admin_only
def update_label_set(set_id: int) -> Response:
    """JSON ``{"labels": [...], "description"?}`` replaces the set's labels."""
    # 404 first: writing labels of a missing set failed on its foreign key (a 500).
    tag_services.label_set(web_state(), set_id)
    return jsonify(tag_services.update(web_state(), set_id, _body()))


@bp.delete("/label-sets/<int:set_id>")
@admin_only
def delete_label_set(set_id: int) -> Response:
    return jsonify(tag_services.delete(web_state(), set_id))


@bp.post("/label-sets/builtin/<name>")
@admin_only
def install_builtin(name: str) -> tuple[Response, int]:
    """Install a shipped set (``everyday``); an installed one is returned unchanged."""
    return jsonify(tag_services.install(web_state(), name)), 201


@bp.post("/tags/retag")
@admin_only
def retag() -> tuple[Response, int]:
    """Queue re-tagging of every stale set (503 outside `edge-app serve`)."""
    job = tag_services.queue_retag(web_state())
    if job is None:
        return jsonify(error=tag_services.NO_DAEMON), 503
    return jsonify(job), 202
