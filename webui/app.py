"""Flask application factory: wiring only, nothing is built at import time.

`create_app(settings, context)` takes an already opened `AppContext` from the daemon (or
tests); without one the context is opened lazily on the first request that needs the
library, so the login and setup pages come up instantly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import Flask, Response, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from edge_app.errors import (
    EdgeError,
    FacesDisabledError,
    FacesError,
    ImageDecodeError,
    LabelConflictError,
    LabelError,
    NotFoundError,
    PathOutsideLibraryError,
    PeopleHiddenError,
    QueryError,
)
from edge_app.ingest.disk import DiskSpaceError
from webui import (
    account,
    api,
    api_spec,
    auth,
    busy,
    gallery_api,
    people_api,
    people_views,
    roots,
    tags_api,
    tags_views,
    trash,
    uploads,
    views,
)
from webui import ocr as ocr_web
from webui.converters import SqliteIntConverter
from webui.passwords import PasswordStore
from webui.security import UploadError, apply_security_headers, load_or_create_secret
from webui.sessions import SESSION_MAX_AGE_S, UploadQuotaError
from webui.state import EXTENSION_KEY, ContextProvider, WebState, web_state

if TYPE_CHECKING:
    from edge_app.context import AppContext
    from edge_app.settings import Settings

log = logging.getLogger(__name__)

# Domain error -> (HTTP status, is the message safe and useful to show?)
_ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFoundError, 404),
    (PathOutsideLibraryError, 404),
    (QueryError, 400),
    (ImageDecodeError, 400),
    (UploadError, 400),
    (LabelConflictError, 409),
    (LabelError, 400),
    (UploadQuotaError, 429),
    (DiskSpaceError, 507),
    (PeopleHiddenError, 403),
    (FacesDisabledError, 409),
    (FacesError, 400),
)


def create_app(settings: Settings, context: AppContext | None = None) -> Flask:
    """Build the web app for `settings`; `context` is shared with the daemon when given."""
    app = Flask(__name__)
    app.url_map.converters["int"] = SqliteIntConverter  # before any route is added
    _configure(app, settings)
    passwords = PasswordStore(settings.data_dir)
    app.extensions[EXTENSION_KEY] = WebState(
        settings=settings,
        passwords=passwords,
        guest_password=PasswordStore(settings.data_dir, "guest"),
        contexts=ContextProvider(settings, context),
    )
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(roots.bp)
    app.register_blueprint(uploads.bp)
    app.register_blueprint(trash.bp)
    app.register_blueprint(ocr_web.bp)
    app.register_blueprint(api_spec.bp)
    app.register_blueprint(tags_api.bp)
    app.register_blueprint(tags_views.bp)
    app.register_blueprint(gallery_api.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(people_api.bp)
    app.register_blueprint(people_views.bp)
    app.before_request(auth.enforce_access)
    app.before_request(auth.check_csrf)
    app.after_request(_after_request)
    app.jinja_env.globals["csrf_token"] = auth.csrf_token
    app.jinja_env.globals["current_role"] = auth.current_role
    _register_error_handlers(app)
    busy.register(app)  # a full tower queue: 503 + Retry-After
    return app


def _configure(app: Flask, settings: Settings) -> None:
    """Session cookie and upload limits; the key persists in the data dir (0600)."""
    app.config.update(
        SECRET_KEY=load_or_create_secret(settings.secret_key_file),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_upload_bytes,
        SESSION_COOKIE_NAME="edge_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Follows TLS: HTTPS by default, and behind a TLS-terminating proxy too.
        SESSION_COOKIE_SECURE=settings.tls != "off",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=SESSION_MAX_AGE_S),
        JSON_SORT_KEYS=False,
    )


def _after_request(response: Response) -> Response:
    """Security headers on every response; private data is never cached by proxies."""
    apply_security_headers(response.headers)
    if web_state().settings.tls != "off":  # HTTPS here or at the proxy: browsers stay on it
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "private, no-store")
    return response


def _error_response(status: int, message: str) -> Response | tuple[str, int]:
    """JSON for the API, a friendly page for browsers."""
    if auth.is_api_request():
        return auth.json_error(message, status)
    title = {400: "Bad request", 404: "Not found", 413: "Too large", 429: "Limit reached"}.get(
        status, "Error"
    )
    return render_template("error.html", title=title, message=message), status


def _register_error_handlers(app: Flask) -> None:
    """Translate domain errors and HTTP errors into `{"error": ...}` / error pages."""
    for exc_type, status in _ERROR_STATUS:
        app.register_error_handler(exc_type, _make_handler(status))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response | tuple[str, int]:
        status = exc.code or 500
        if status == 413:
            limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
            return _error_response(413, f"upload too large: the limit is {limit} bytes")
        return _keep_headers(_error_response(status, exc.description or exc.name), exc)

    @app.errorhandler(EdgeError)
    def _edge(exc: EdgeError) -> Response | tuple[str, int]:
        log.error("event=request_failed path=%s error=%r", request.path, exc)
        return _error_response(500, str(exc))


def _keep_headers(result: Response | tuple[str, int], exc: HTTPException) -> Response:
    """Keep the exception's own headers (e.g. `Allow` on a 405, RFC 9110) on our body."""
    response = make_response(result)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _make_handler(status: int) -> Callable[[Exception], Response | tuple[str, int]]:
    """One handler per mapped domain error (keeps the message: it is written for people)."""

    def handler(exc: Exception) -> Response | tuple[str, int]:
        return _error_response(status, str(exc) or type(exc).__name__)

    return handler
