"""Server-side sessions for the web UI (the SQL lives in `edge_app.library.sessions`).

The signed Flask cookie still carries the role and the CSRF token, but a login is only
honoured while its random session token is stored in the library: logout, "sign out
everywhere", a password change and `edge-app reset-password` delete rows, and the cookie
that pointed at them stops working at once, even in another process.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask import g, request, session

from edge_app.library.sessions import WebSession
from webui.security import CSRF_SESSION_KEY, new_csrf_token
from webui.state import web_state

SESSION_TOKEN_KEY = "sid"
SESSION_MAX_AGE_S = 7 * 24 * 3600  # also the cookie's lifetime (webui.app)
TOUCH_INTERVAL_S = 60.0  # "last seen" is written at most once a minute per session
_CACHE = "edge_web_session"


def start(role: str) -> WebSession:
    """A fresh session (new token, new CSRF token) for a successful login."""
    token = secrets.token_urlsafe(32)
    row = web_state().contexts.library().create_session(token, role, *_client())
    session.clear()
    session.permanent = True
    session["role"] = role
    session[SESSION_TOKEN_KEY] = token
    session[CSRF_SESSION_KEY] = new_csrf_token()
    setattr(g, _CACHE, row)
    return row


def current() -> WebSession | None:
    """The caller's live server-side session, or None (cached for the request)."""
    if _CACHE in g:
        cached: WebSession | None = getattr(g, _CACHE)
        return cached
    token = session.get(SESSION_TOKEN_KEY)
    found = None
    if isinstance(token, str) and token:
        contexts = web_state().contexts
        found = contexts.reader().find_session(token, SESSION_MAX_AGE_S)
        if found is not None and found.seen_before(TOUCH_INTERVAL_S):
            contexts.library().touch_session(found.id, TOUCH_INTERVAL_S)
    setattr(g, _CACHE, found)
    return found


def ensure_current(role: str) -> WebSession:
    """The caller's session, creating one (keeping the CSRF token) when there is none:
    a guest's uploads are counted against a row of its own."""
    found = current()
    if found is not None:
        return found
    token = secrets.token_urlsafe(32)
    row = web_state().contexts.library().create_session(token, role, *_client())
    session[SESSION_TOKEN_KEY] = token
    setattr(g, _CACHE, row)
    return row


def end_current() -> None:
    """Logout: delete the stored session and empty the cookie."""
    found = current()
    if found is not None:
        web_state().contexts.library().end_session(found.id)
    session.clear()
    setattr(g, _CACHE, None)


def end_others() -> int:
    """End every session except the caller's (after a password change, "sign out everywhere")."""
    found = current()
    return web_state().contexts.library().end_sessions(keep_id=found.id if found else None)


class UploadQuotaError(Exception):
    """This session reached its daily upload volume (``upload_daily_bytes``)."""


def charge_upload(nbytes: int, role: str) -> None:
    """Count an upload against the caller's session for today, or refuse it whole."""
    limit = web_state().settings.upload_daily_bytes
    row = ensure_current(role)
    if not web_state().contexts.library().add_upload_bytes(row.id, today(), nbytes, limit):
        raise UploadQuotaError(
            f"this upload would take this session past its daily limit of {limit / 1e6:.1f} MB "
            "(upload_daily_bytes): try again tomorrow, or the admin can raise the limit"
        )


def today() -> str:
    """The day uploads are counted on (UTC)."""
    return datetime.now(UTC).date().isoformat()


def _client() -> tuple[str, str]:
    return request.headers.get("User-Agent", ""), request.remote_addr or ""
