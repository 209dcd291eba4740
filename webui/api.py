"""JSON API (documented in docs/API.md). Errors are always ``{"error": message}``.

Photos are addressed by integer id only: no route accepts a file-system path, so a
request cannot name a file outside the library.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file
from werkzeug.wrappers.response import Response as BaseResponse

from edge_app.errors import QueryError
from webui import imports, near_duplicates, query_images, services
from webui.auth import ROLE_GUEST, admin_only, current_role, json_error
from webui.gallery import Listing
from webui.security import UploadedImage, validate_image_upload
from webui.sessions import charge_upload
from webui.state import web_state

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_LIMIT = 200
MAX_EMBED_TEXTS = 64
MAX_EMBED_IMAGES = 16


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    """A bounded integer query parameter; a bad value is a 400, not a 500."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise QueryError(f"{name} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise QueryError(f"{name} must be between {low} and {high}, got {value}")
    return value


def uploaded_images(field: str = "image", limit: int = 1) -> list[UploadedImage]:
    """Validated images from a multipart form (real decode, bomb guard, pixel limit)."""
    files = [f for f in request.files.getlist(field) if f and f.filename is not None]
    if not files:
        raise QueryError(f"send the image as multipart/form-data field {field!r}")
    if len(files) > limit:
        raise QueryError(f"at most {limit} image(s) per request")
    charge_upload(request.content_length or 0, current_role() or ROLE_GUEST)
    max_pixels = web_state().settings.max_image_pixels
    return [validate_image_upload(f.read(), max_pixels) for f in files]


def _hits_json(hits: list[services.Hit], limit: int, offset: int) -> Response:
    return jsonify(
        results=[h.to_json() for h in hits[:limit]],
        offset=offset,
        limit=limit,
        has_more=len(hits) > limit,
    )


@bp.get("/search")
def search() -> Response:
    """Search as the web page does: text or query grammar (``q``), "more like this"
    (``like`` = a photo id) or a query image (``qimg`` = the token of `/search/image`);
    exactly one of them, with ``limit&offset&date_from&date_to&folder&camera&min_score&tag``."""
    given = [name for name in ("q", "like", "qimg") if request.args.get(name, "").strip()]
    if len(given) != 1:
        raise QueryError(
            "give exactly one of q (text), like (a photo id) or qimg (a query-image token), "
            "e.g. /api/search?q=red+car"
        )
    limit = _int_arg("limit", 24, 1, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0, 100_000)
    listing = Listing.from_args(request.args)  # the page's checks of like and q
    ctx, filters = web_state().context, services.SearchFilters.from_args(request.args)
    if listing.qimg:
        image = query_images.load(ctx.settings.data_dir, listing.qimg)
        hits = services.search_image(ctx, image, limit + 1, filters, offset)
    elif listing.like is not None:
        hits = services.similar(ctx, listing.like, limit + 1, filters, offset)
    else:
        hits = services.search_text(ctx, listing.q, limit + 1, offset, filters)
    return _hits_json(hits, limit, offset)


@bp.post("/search/image")
def search_image() -> Response:
    """Search by an uploaded image (multipart field ``image``); same filters as text search."""
    limit = _int_arg("limit", 24, 1, MAX_LIMIT)
    filters = services.SearchFilters.from_args(request.args)
    (upload,) = uploaded_images()
    hits = services.search_image(web_state().context, upload.image, limit + 1, filters)
    return _hits_json(hits, limit, 0)


@bp.get("/photos/<int:photo_id>")
def photo(photo_id: int) -> Response:
    """Metadata of one photo, plus its similar photos when ``?similar=N`` (N > 0)."""
    ctx = web_state().context
    info = services.photo_info(ctx, photo_id)
    n_similar = _int_arg("similar", 0, 0, MAX_LIMIT)
    body: dict[str, Any] = dict(info.to_json())
    if n_similar:
        body["similar"] = [h.to_json() for h in services.similar(ctx, photo_id, n_similar)]
    return jsonify(body)


@bp.get("/photos/<int:photo_id>/thumb")
def photo_thumb(photo_id: int) -> BaseResponse:
    """The JPEG thumbnail (cacheable: a photo's content never changes under its id)."""
    data = services.thumbnail_jpeg(web_state().context, photo_id)
    response = send_file(data, mimetype="image/jpeg", max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/photos/<int:photo_id>/preview")
def photo_preview(photo_id: int) -> BaseResponse:
    """An upright (EXIF-rotated) JPEG for display, at most ``?size=`` px (default 1600)."""
    size = _int_arg("size", 1600, 64, 4096)
    data = services.preview_jpeg(web_state().context, photo_id, size)
    response = send_file(data, mimetype="image/jpeg", max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/photos/<int:photo_id>/file")
def photo_file(photo_id: int) -> BaseResponse:
    """The original file, as a download (exact bytes, EXIF untouched)."""
    path = services.photo_path(web_state().context, photo_id)
    return send_file(path, as_attachment=True, download_name=path.name)


@bp.get("/duplicates")
def duplicates() -> Response:
    """Groups of (near-)duplicate photos: ``?threshold=`` overrides the configured one."""
    threshold = near_duplicates.parse_threshold(request.args.get("threshold"), web_state().settings)
    groups = near_duplicates.duplicate_groups(web_state().context, threshold)
    return jsonify(threshold=threshold, groups=[g.to_json() for g in groups])


@bp.get("/status")
def status() -> Response:
    """Progress, counts, skipped files, engine, system load, jobs."""
    return jsonify(services.status(web_state()))


def _texts_from_body() -> list[str]:
    body = request.get_json(silent=True)
    texts = body.get("texts") if isinstance(body, dict) else None
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise QueryError('body must be JSON {"texts": ["a photo of a dog", ...]}')
    if len(texts) > MAX_EMBED_TEXTS:
        raise QueryError(f"at most {MAX_EMBED_TEXTS} texts per request")
    return texts


@bp.post("/embed/text")
def embed_text() -> Response:
    """CLIP text embeddings (L2-normalised float32 as JSON lists)."""
    texts = _texts_from_body()
    ctx = web_state().context
    vectors = services.embed_texts(ctx, texts)
    return jsonify(
        bundle_id=services.bundle_id(ctx), dim=int(vectors.shape[1]), embeddings=vectors.tolist()
    )


@bp.post("/embed/image")
def embed_image() -> Response:
    """CLIP image embeddings of uploaded images (multipart field ``image``, repeatable)."""
    uploads = uploaded_images(limit=MAX_EMBED_IMAGES)
    ctx = web_state().context
    vectors = services.embed_images(ctx, [u.image for u in uploads])
    return jsonify(
        bundle_id=services.bundle_id(ctx), dim=int(vectors.shape[1]), embeddings=vectors.tolist()
    )


@bp.post("/reindex")
@admin_only
def reindex() -> Response | tuple[Response, int]:
    """Queue a library re-scan and indexing run (admin only)."""
    jobs = web_state().jobs
    if jobs is None:
        return json_error("background jobs run only under `edge-app serve`", 503)
    try:
        job = jobs.submit("reindex")
    except RuntimeError as exc:
        return json_error(str(exc), 503)
    return jsonify(job), 202


@bp.get("/imports")
def imports_list() -> Response:
    """Sticks waiting for an answer (``import_mode = "ask"``) and recent import sessions."""
    return jsonify(imports.overview(web_state()).to_json())


@bp.get("/imports/<int:session_id>")
def import_session(session_id: int) -> Response:
    """Progress of one import session (404 for an unknown id)."""
    return jsonify(imports.session(web_state(), session_id))


@bp.post("/imports/pending/<name>")
@admin_only
def import_answer(name: str) -> Response:
    """Approve (copy) or decline a waiting stick: JSON ``{"approve": true|false}``."""
    approve = imports.parse_approve(request.get_json(silent=True))
    return jsonify(imports.answer(web_state().settings, name, approve))
