"""Server-rendered HTML pages. Basic search works with JavaScript disabled: the search
box is a plain GET form and results come back rendered; JS only adds drag and drop and
live status polling."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from edge_app.errors import QueryError
from webui import gallery, gallery_pages, imports, query_images, services, trash
from webui.account import session_rows
from webui.api import uploaded_images
from webui.auth import ROLE_ADMIN, admin_only, current_role
from webui.security import UploadError
from webui.state import web_state

bp = Blueprint("views", __name__)


@bp.get("/")
def search() -> str | tuple[str, int]:
    """The library: timeline grid, or ranked results for ``q``/``like``/``qimg`` (no JS needed)."""
    try:
        listing = gallery.Listing.from_args(request.args)
    except QueryError as exc:
        return gallery_pages.home(gallery.Listing(), error=str(exc)), 400
    return gallery_pages.home(listing)


@bp.post("/search/image")
def search_image() -> BaseResponse | tuple[str, int]:
    """Upload a query image; it is kept under a token and the results get a GET URL."""
    try:
        (upload,) = uploaded_images()
        listing = gallery.Listing.from_args(request.form)
    except (QueryError, UploadError) as exc:
        return gallery_pages.home(gallery.Listing(), error=str(exc)), 400
    settings = web_state().settings
    token = query_images.save(
        settings.data_dir,
        upload.image,
        settings.query_images_max_count,
        settings.query_images_max_bytes,
    )
    args = {**listing.to_args(), "qimg": token}
    args.pop("q", None)
    return redirect(url_for("views.search", **args), code=303)


@bp.get("/query-images/<token>")
def query_image(token: str) -> BaseResponse:
    """The uploaded query image shown above its results."""
    path = query_images.path(web_state().settings.data_dir, token)
    return send_file(path, mimetype="image/jpeg", max_age=3600)


@bp.get("/photos/<int:photo_id>")
def photo(photo_id: int) -> str:
    """Viewer: preview, info panel, prev/next within the listing it came from, similar photos."""
    return gallery_pages.viewer(photo_id)


@bp.get("/duplicates")
def duplicates() -> str | tuple[str, int]:
    """Duplicates review at ``?threshold=`` (default from the settings); see `webui.trash`."""
    return trash.duplicates_page()


@bp.get("/library")
def library() -> str:
    """Status page; `app.js` keeps it live by polling /api/status."""
    rows = session_rows() if current_role() == ROLE_ADMIN else []
    return render_template(
        "library.html", status=services.status_for_page(web_state()), web_sessions=rows
    )


@bp.post("/library/reindex")
@admin_only
def reindex() -> BaseResponse | tuple[str, int]:
    """No-JS re-index button: queue the job, then back to the status page."""
    jobs = web_state().jobs
    if jobs is None:
        message = "Background jobs run only under `edge-app serve`."
        return render_template("error.html", title="Unavailable", message=message), 503
    jobs.submit("reindex")
    return redirect(url_for("views.library"))


@bp.get("/import")
def import_page() -> str:
    """USB import page: server-rendered (works without JS); `app.js` polls /api/imports."""
    overview = imports.overview(web_state())
    return render_template("import.html", overview=overview)


@bp.post("/import/pending/<name>")
@admin_only
def import_answer(name: str) -> BaseResponse:
    """No-JS Import / Ignore buttons: answer the waiting stick, then back to the page."""
    decision = request.form.get("decision")
    if decision not in ("import", "ignore"):
        raise QueryError("decision must be 'import' or 'ignore'")
    imports.answer(web_state().settings, name, decision == "import")
    return redirect(url_for("views.import_page"))
