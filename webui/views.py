"""Server-rendered HTML pages. Basic search works with JavaScript disabled: the search
box is a plain GET form and results come back rendered; JS only adds drag and drop and
live status polling."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from edge_app.errors import QueryError
from webui import imports, services, trash
from webui import ocr as ocr_web
from webui.api import uploaded_images
from webui.auth import admin_only
from webui.security import UploadError
from webui.state import web_state

bp = Blueprint("views", __name__)

PAGE_SIZE = 24
MAX_PAGE = 200
SIMILAR_ON_PHOTO_PAGE = 12


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    try:
        page = int(raw)
    except ValueError as exc:
        raise QueryError(f"page must be a number, got {raw!r}") from exc
    return min(max(page, 1), MAX_PAGE)


def _search_page(**values: Any) -> str:
    """Render search.html with the filter choices and sensible defaults."""
    ctx = web_state().context
    folders, cameras = services.filter_options(ctx)
    defaults: dict[str, Any] = {
        "q": "",
        "filters": services.SearchFilters(),
        "results": [],
        "searched": False,
        "error": None,
        "mode": "text",
        "page": 1,
        "offset": 0,
        "has_next": False,
    }
    defaults.update(values)
    filters: services.SearchFilters = defaults["filters"]

    def page_url(page: int) -> str:
        args: dict[str, Any] = {"q": defaults["q"], "page": page, **filters.to_args()}
        return url_for("views.search", **args)

    return render_template(
        "search.html", folders=folders, cameras=cameras, page_url=page_url, **defaults
    )


@bp.get("/")
def search() -> str | tuple[str, int]:
    """Search page; with ``?q=`` it also renders the results (no JavaScript needed)."""
    q = request.args.get("q", "").strip()
    try:
        filters = services.SearchFilters.from_args(request.args)
        page = _page_arg()
    except QueryError as exc:
        return _search_page(q=q, error=str(exc), searched=False), 400
    if not q:
        return _search_page(filters=filters)
    offset = (page - 1) * PAGE_SIZE
    try:
        hits = services.search_text(web_state().context, q, PAGE_SIZE + 1, offset, filters)
    except QueryError as exc:
        return _search_page(q=q, filters=filters, error=str(exc)), 400
    return _search_page(
        q=q,
        filters=filters,
        results=hits[:PAGE_SIZE],
        searched=True,
        page=page,
        offset=offset,
        has_next=len(hits) > PAGE_SIZE,
    )


@bp.post("/search/image")
def search_image() -> str | tuple[str, int]:
    """Form upload fallback of search-by-image (the drop zone submits this form too)."""
    try:
        (upload,) = uploaded_images()
    except (QueryError, UploadError) as exc:
        return _search_page(error=str(exc), mode="image"), 400
    hits = services.search_image(web_state().context, upload.image, PAGE_SIZE, None)
    return _search_page(results=hits, searched=True, mode="image")


@bp.get("/photos/<int:photo_id>")
def photo(photo_id: int) -> str:
    """One photo: upright preview, metadata, download link and similar photos."""
    ctx = web_state().context
    info = services.photo_info(ctx, photo_id)
    similar = services.similar(ctx, photo_id, SIMILAR_ON_PHOTO_PAGE)
    text = ocr_web.photo_text(ctx, photo_id)
    return render_template("photo.html", photo=info, results=similar, ocr=text)


@bp.get("/duplicates")
def duplicates() -> str | tuple[str, int]:
    """Duplicates review at ``?threshold=`` (default from the settings); see `webui.trash`."""
    return trash.duplicates_page()


@bp.get("/library")
def library() -> str:
    """Status page; `app.js` keeps it live by polling /api/status."""
    return render_template("library.html", status=services.status_for_page(web_state()))


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
