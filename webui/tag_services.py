"""The web app's view of tagging: the one module calling `edge_app.tags` for the UI/API.

Why writes happen here: a label-set edit is a handful of rows, written through the
library's writer under its lock; the bulk work (re-tagging every photo) is queued as the
daemon's ``tags`` job so the job thread stays the one bulk writer. Without a daemon (no
job queue attached) the answer says so instead of tagging inside the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edge_app.errors import NotFoundError
from edge_app.library.store import PhotoFilter
from edge_app.tags import admin
from webui.services import Hit, _hits

if TYPE_CHECKING:
    from edge_app.library.tags import LabelSet, TagCount
    from webui.state import WebState

NO_DAEMON = (
    "tags are written by the daemon's job queue: run `edge-app serve` or `edge-app tags retag`"
)


def queue_retag(state: WebState) -> dict[str, Any] | None:
    """Queue the ``tags`` job; None when no daemon runs (the caller reports NO_DAEMON)."""
    if state.jobs is None:
        return None
    try:
        return state.jobs.submit("tags")
    except RuntimeError as exc:  # shutting down: the set is stored, tagging runs next start
        return {"kind": "tags", "state": "refused", "error": str(exc)}
    except ValueError as exc:  # a job queue without a "tags" handler: refuse, never a 500
        return {"kind": "tags", "state": "refused", "error": str(exc)}


def set_response(state: WebState, label_set: LabelSet) -> dict[str, Any]:
    """A stored set plus the re-tag job queued for it."""
    job = queue_retag(state)
    body: dict[str, Any] = {"set": label_set.to_json(), "job": job}
    if job is None:
        body["note"] = NO_DAEMON
    return body


def create(state: WebState, body: Any) -> dict[str, Any]:
    data = body if isinstance(body, dict) else {}
    label_set = admin.create_set(
        state.context.library, data.get("name"), data.get("labels"), data.get("description", "")
    )
    return set_response(state, label_set)


def update(state: WebState, set_id: int, body: Any) -> dict[str, Any]:
    data = body if isinstance(body, dict) else {}
    label_set = admin.update_set(
        state.context.library, set_id, data.get("labels"), data.get("description")
    )
    return set_response(state, label_set)


def delete(state: WebState, set_id: int) -> dict[str, Any]:
    state.context.library.delete_label_set(set_id)
    return {"deleted": set_id}


def install(state: WebState, name: str) -> dict[str, Any]:
    return set_response(state, admin.install_builtin(state.context.library, name))


def label_sets(state: WebState) -> list[LabelSet]:
    return state.context.reader.list_label_sets()


def label_set(state: WebState, ident: str | int) -> LabelSet:
    return admin.resolve_set(state.context.reader, ident)


def tag_counts(state: WebState) -> list[TagCount]:
    return state.context.reader.tag_counts()


def tagged_photos(state: WebState, name: str, limit: int, offset: int) -> tuple[list[Hit], int]:
    """Photos with tag ``name``, best score first, and how many there are."""
    ctx = state.context
    if ctx.reader.missing_tag_names([name]):
        raise NotFoundError(f"no label is named {name!r}: see /things for the tags in this library")
    page = ctx.search.tag_page(PhotoFilter(tags=(name,)), limit=limit, offset=offset)
    return _hits(ctx, page), page.total


def photo_tags(state: WebState, photo_id: int) -> list[dict[str, Any]]:
    """Tags of one photo for the info panel and /api/photos/<id>/tags."""
    rows = state.context.reader.photo_tags(photo_id)
    return [{"set": s, "label": lab, "score": round(score, 3)} for s, lab, score in rows]
