"""JSON routes of the photo app (documented in docs/API.md): timeline, folders, cameras, places.

Same listing parameters as the home page (`webui.gallery.Listing`), so a client can build
its own grid; errors are ``{"error": message}`` like the rest of the API.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from edge_app.library.roots import display_path
from webui import gallery
from webui.api import MAX_LIMIT, _int_arg
from webui.state import web_state

bp = Blueprint("gallery_api", __name__, url_prefix="/api")


@bp.get("/timeline")
def timeline() -> Response:
    """Indexed photos newest first (taken date, else file date), with the listing filters."""
    limit = _int_arg("limit", gallery.PAGE_SIZE, 1, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0, 100_000)
    listing = gallery.Listing.from_args(request.args)
    ctx = web_state().context
    cards = gallery.timeline(ctx, listing, offset, limit + 1)
    names = ctx.reader.root_names()
    return jsonify(
        results=[
            {
                "id": c.id,
                "name": c.name,
                "folder": c.photo.folder,
                "folder_label": display_path(c.photo.folder, names),
                "shown_at": c.shown_at,
                "place": c.place or None,
                "thumb_url": f"/api/photos/{c.id}/thumb",
                "page_url": f"/photos/{c.id}",
            }
            for c in cards[:limit]
        ],  # fmt: skip
        offset=offset,
        limit=limit,
        has_more=len(cards) > limit,
    )


@bp.get("/folders")
def folders() -> Response:
    """The folder tree: every folder with the photos in it and below."""
    tree = gallery.folder_tree(web_state().context)
    return jsonify(folders=[{"folder": f, "photos": n} for f, n in tree])


@bp.get("/cameras")
def cameras() -> Response:
    """Normalised makes with their models and photo counts (junk EXIF values dropped)."""
    return jsonify(cameras=gallery.cameras(web_state().context))


@bp.get("/places")
def places() -> Response:
    """Countries with their cities and photo counts (offline reverse geocoding of GPS EXIF)."""
    return jsonify(places=gallery.place_tree(web_state().context))
