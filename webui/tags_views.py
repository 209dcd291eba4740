"""HTML pages for tags: "Things" (tags with counts and covers), one page per tag, and the
admin's label-set form. Plain forms and links: everything works without JavaScript."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from edge_app.errors import LabelError
from edge_app.tags.labels import labels_from_lines
from webui import tag_services
from webui.auth import admin_only
from webui.state import web_state

bp = Blueprint("tags_views", __name__)

PAGE_SIZE = 48


@bp.app_template_global("photo_tags_for")
def photo_tags_for(photo_id: int) -> list[dict[str, Any]]:
    """Used by ``_photo_tags.html`` (included in the photo page's info panel)."""
    return tag_services.photo_tags(web_state(), photo_id)


@bp.get("/things")
def things(error: str | None = None, status: int = 200) -> Any:
    state = web_state()
    body = render_template(
        "things.html",
        tags=tag_services.tag_counts(state),
        sets=tag_services.label_sets(state),
        error=error,
        form=request.form,
    )
    return body, status


@bp.get("/things/<path:name>")
def tag_page(name: str) -> str:
    raw = request.args.get("page", "1")
    page = min(max(int(raw), 1), 200) if raw.isdigit() else 1
    hits, total = tag_services.tagged_photos(web_state(), name, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return render_template(
        "tag.html", name=name, results=hits, total=total, page=page,
        has_next=page * PAGE_SIZE < total,
    )  # fmt: skip


@bp.post("/things/sets")
@admin_only
def create_set() -> Any:
    """The form: a set name and one label per line (``name: prompt; prompt``)."""
    state = web_state()
    try:
        labels = labels_from_lines((request.form.get("labels") or "").splitlines())
        if not labels:
            raise LabelError("type at least one label, one per line")
        tag_services.create(
            state,
            {
                "name": request.form.get("name"),
                "description": request.form.get("description", ""),
                "labels": [{"name": lab.name, "prompts": list(lab.prompts)} for lab in labels],
            },
        )
    except LabelError as exc:
        return things(error=str(exc), status=400)
    return redirect(url_for("tags_views.things"))


@bp.post("/things/sets/<int:set_id>/delete")
@admin_only
def delete_set(set_id: int) -> BaseResponse:
    tag_services.delete(web_state(), set_id)
    return redirect(url_for("tags_views.things"))


@bp.post("/things/retag")
@admin_only
def retag() -> Any:
    if tag_services.queue_retag(web_state()) is None:
        return things(error=tag_services.NO_DAEMON, status=503)
    return redirect(url_for("tags_views.things"))
