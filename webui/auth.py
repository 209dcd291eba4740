"""Admin authentication: first-run setup token, password login, access rules and CSRF.

First run: there is no password yet. `edge-app serve` logs a one-time *setup token*
(also readable by root in ``<data_dir>/setup_token``). The /setup page asks for that token
and the new password. Why a token rather than "first visitor sets the password": the box
sits on a shared LAN, and whoever opened the page first would own it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers.response import Response as BaseResponse

from webui import sessions
from webui.passwords import MIN_PASSWORD_LENGTH
from webui.security import (
    CSRF_FORM_FIELD,
    CSRF_HEADER,
    CSRF_SESSION_KEY,
    csrf_matches,
    new_csrf_token,
)
from webui.state import web_state

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_ENDPOINTS = frozenset(
    {"static", "auth.login", "auth.setup", "auth.api_login", "auth.api_session"}
    | {"api_spec.openapi_json"}
)
ROLE_ADMIN = "admin"
ROLE_GUEST = "guest"


def admin_only(view: F) -> F:
    """Mark a view as needing the admin even when guest access is on."""
    view._edge_admin_only = True  # type: ignore[attr-defined]
    return view


def csrf_exempt(view: F) -> F:
    """Mark a view that authenticates a JSON body itself (no cookie-only forgery possible)."""
    view._edge_csrf_exempt = True  # type: ignore[attr-defined]
    return view


def csrf_token() -> str:
    """The session's CSRF token, created on first use (templates and /api/session)."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = new_csrf_token()
        session[CSRF_SESSION_KEY] = token
    return token


def current_role() -> str | None:
    """The caller's role: admin, guest (when guest access is on) or None."""
    live = sessions.current()
    if live is not None:
        return live.role
    return ROLE_GUEST if web_state().settings.guest_access else None


def is_api_request() -> bool:
    """API callers get JSON errors, browsers get pages and redirects."""
    return request.blueprint == "api" or request.path.startswith("/api/")


def json_error(message: str, status: int) -> Response:
    """The one JSON error shape of the API: ``{"error": message}``."""
    response = jsonify(error=message)
    response.status_code = status
    return response


def _view_flag(name: str) -> bool:
    from flask import current_app

    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, name, False))


def enforce_access() -> BaseResponse | None:
    """`before_request` hook: who may see what. Returns a response to stop the request."""
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not web_state().passwords.is_set():
        if is_api_request():
            return json_error("the admin password is not set yet: open /setup", 401)
        return redirect(url_for("auth.setup"))
    role = current_role()
    if role == ROLE_ADMIN or (role == ROLE_GUEST and not _view_flag("_edge_admin_only")):
        return None
    if is_api_request():
        return json_error("login required", 401)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def check_csrf() -> BaseResponse | None:
    """`before_request` hook: every state-changing request carries the session's token."""
    if request.method in SAFE_METHODS or _view_flag("_edge_csrf_exempt"):
        return None
    if request.routing_exception is not None:
        return None  # no view will run: let the 404/405 (with its Allow header) answer
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FORM_FIELD)
    if csrf_matches(session.get(CSRF_SESSION_KEY), given):
        return None
    message = "missing or invalid CSRF token: reload the page and try again"
    if is_api_request():
        return json_error(message, 403)
    return Response(render_template("error.html", title="Forbidden", message=message), 403)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: ``next=//evil.example`` must not redirect away."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("views.search")


def _client_key() -> str:
    return request.remote_addr or "unknown"


def _start_admin_session() -> None:
    """A new server-side session and fresh cookie contents (new CSRF token) on login."""
    sessions.start(ROLE_ADMIN)


def _role_of(password: str) -> str | None:
    """Whose password this is: the admin's, the guest password's, or nobody's."""
    state = web_state()
    if state.passwords.verify(password):
        return ROLE_ADMIN
    guest = state.guest_password
    return ROLE_GUEST if guest is not None and guest.verify(password) else None


def _attempt_login(password: str) -> tuple[str | None, int]:
    """(role or None, retry_after_s): rate limit first, so a blocked client learns nothing."""
    state = web_state()
    key = _client_key()
    wait = state.limiter.retry_after(key)
    if wait:
        return None, wait
    role = _role_of(password)
    if role is not None:
        state.limiter.reset(key)
        sessions.start(role)
        log.info("event=login_ok role=%s client=%s", role, key)
        return role, 0
    state.limiter.record_failure(key)
    log.warning("event=login_failed client=%s", key)
    return None, 0


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | str | tuple[str, int]:
    """Password form; rate limited per client address."""
    if not web_state().passwords.is_set():
        return redirect(url_for("auth.setup"))
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next_url=next_url, error=None)
    role, wait = _attempt_login(request.form.get("password", ""))
    if role is not None:
        return redirect(next_url)
    if wait:
        error = f"Too many failed attempts. Try again in {wait} seconds."
        return render_template("login.html", next_url=next_url, error=error), 429
    return render_template("login.html", next_url=next_url, error="Wrong password."), 401


def _setup_error(form: dict[str, str]) -> str | None:
    """Why a setup form cannot be accepted, or None."""
    state = web_state()
    wait = state.limiter.retry_after(_client_key())
    if wait:
        return f"Too many failed attempts. Try again in {wait} seconds."
    if not state.passwords.check_setup_token(form.get("token", "")):
        state.limiter.record_failure(_client_key())
        return "Wrong setup token. It is printed in the log of `edge-app serve`."
    if form.get("password", "") != form.get("confirm", ""):
        return "The two passwords differ."
    if len(form.get("password", "")) < MIN_PASSWORD_LENGTH:
        return f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    return None


def served_fingerprint() -> str | None:
    """SHA-256 of the certificate this box serves (None without TLS or before it exists)."""
    from edge_app.appliance.tls import TlsFiles, fingerprint

    settings = web_state().settings
    files = TlsFiles.of(settings)
    if settings.tls != "auto" or files.source() is None:
        return None
    return fingerprint(files.cert)


@bp.route("/setup", methods=["GET", "POST"])
def setup() -> BaseResponse | str | tuple[str, int]:
    """First run: setup token + new admin password. Gone once a password exists."""
    state = web_state()
    if state.passwords.is_set():
        return redirect(url_for("auth.login"))
    fingerprint = served_fingerprint()
    if request.method == "GET":
        return render_template("setup.html", error=None, fingerprint=fingerprint)
    form = {k: request.form.get(k, "") for k in ("token", "password", "confirm")}
    error = _setup_error(form)
    if error:  # keep the typed token: it is long, and retyping it is the usual slip
        page = render_template(
            "setup.html", error=error, token=form["token"], fingerprint=fingerprint
        )
        return page, 400
    state.passwords.set_password(form["password"])
    _start_admin_session()
    log.info("event=admin_password_set client=%s", _client_key())
    return redirect(url_for("views.search"))


@bp.route("/logout", methods=["POST"])
def logout() -> BaseResponse:
    """End the session, server side too (POST + CSRF, so a link cannot log someone out)."""
    sessions.end_current()
    return redirect(url_for("auth.login"))


@bp.route("/api/login", methods=["POST"])
@csrf_exempt
def api_login() -> Response:
    """JSON login for scripts: ``{"password": ...}`` -> ``{"csrf_token": ...}`` + cookie.

    Exempt from CSRF because it insists on a JSON body, which a cross-site form cannot send.
    """
    if not request.is_json:
        return json_error('send the password as JSON: {"password": "..."}', 415)
    body = request.get_json(silent=True)
    password = body.get("password") if isinstance(body, dict) else None
    if not isinstance(password, str):
        return json_error('body must be {"password": "..."}', 400)
    role, wait = _attempt_login(password)
    if role is not None:
        return jsonify(role=role, csrf_token=csrf_token())
    if wait:
        response = json_error(f"too many failed attempts; retry in {wait} s", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    return json_error("wrong password", 401)


@bp.route("/api/session")
def api_session() -> Response:
    """Who am I, and the CSRF token to send in ``X-CSRF-Token``."""
    return jsonify(
        role=current_role(),
        password_set=web_state().passwords.is_set(),
        csrf_token=csrf_token(),
    )
