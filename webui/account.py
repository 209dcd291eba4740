"""The admin's account page: change the password, see and end web sessions.

A password change needs the old password (a borrowed, still logged-in browser must not
be enough to lock the owner out) and ends every other session; the current one gets a
new token. Ending sessions is also offered on the Library page ("sign out everywhere").
"""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from edge_app.library.sessions import WebSession
from webui import sessions
from webui.auth import ROLE_ADMIN, ROLE_GUEST, admin_only
from webui.passwords import MIN_PASSWORD_LENGTH
from webui.state import web_state

log = logging.getLogger(__name__)

bp = Blueprint("account", __name__)


def session_rows() -> list[tuple[WebSession, bool]]:
    """Every stored session and whether it is the caller's (Library page)."""
    mine = sessions.current()
    rows = web_state().contexts.library().list_sessions()
    return [(row, mine is not None and row.id == mine.id) for row in rows]


def _password_error(form: dict[str, str]) -> str | None:
    """Why a password change cannot be accepted, or None (wrong old password is counted)."""
    state = web_state()
    client = request.remote_addr or "unknown"
    wait = state.limiter.retry_after(client)
    if wait:
        return f"Too many failed attempts. Try again in {wait} seconds."
    if not state.passwords.verify(form["old"]):
        state.limiter.record_failure(client)
        return "The current password is wrong."
    if form["new"] != form["confirm"]:
        return "The two new passwords differ."
    if len(form["new"]) < MIN_PASSWORD_LENGTH:
        return f"The new password needs at least {MIN_PASSWORD_LENGTH} characters."
    return None


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    guest = web_state().guest_password
    page = render_template(
        "account.html",
        error=error,
        changed=request.args.get("changed"),
        guest_set=guest is not None and guest.is_set(),
    )
    return page, status


@bp.get("/account")
@admin_only
def account() -> tuple[str, int]:
    """The password-change forms (admin, guest)."""
    return _page()


@bp.post("/account/password")
@admin_only
def change_password() -> BaseResponse | tuple[str, int]:
    """Old password + new twice; every other session ends, this one gets a new token."""
    form = {k: request.form.get(k, "") for k in ("old", "new", "confirm")}
    error = _password_error(form)
    if error:
        return _page(error, 400)
    web_state().passwords.set_password(form["new"])
    ended = sessions.end_others()
    sessions.end_current()
    sessions.start(ROLE_ADMIN)
    log.info("event=admin_password_changed client=%s ended_sessions=%d", request.remote_addr, ended)
    return redirect(url_for("account.account", changed=1))


def _guest_error(new: str, confirm: str) -> str | None:
    if new != confirm:
        return "The two guest passwords differ."
    if len(new) < MIN_PASSWORD_LENGTH:
        return f"The guest password needs at least {MIN_PASSWORD_LENGTH} characters."
    if web_state().passwords.verify(new):
        return "The guest password must differ from the admin password."
    return None


@bp.post("/account/guest-password")
@admin_only
def guest_password() -> BaseResponse | tuple[str, int]:
    """Set, change or remove the guest password; every guest session ends."""
    store = web_state().guest_password
    if store is None:
        return _page("Guest passwords are not available here.", 400)
    if request.form.get("remove"):
        store.remove()
    else:
        error = _guest_error(request.form.get("new", ""), request.form.get("confirm", ""))
        if error:
            return _page(error, 400)
        store.set_password(request.form["new"])
    ended = web_state().contexts.library().end_sessions(role=ROLE_GUEST)
    log.info("event=guest_password_changed ended_sessions=%d", ended)
    return redirect(url_for("account.account", changed="guest"))


@bp.post("/sessions/<int:session_id>/end")
@admin_only
def end_session(session_id: int) -> BaseResponse:
    """End one session; ending one's own is a logout."""
    mine = sessions.current()
    if mine is not None and mine.id == session_id:
        sessions.end_current()
        return redirect(url_for("auth.login"))
    web_state().contexts.library().end_session(session_id)
    return redirect(url_for("views.library") + "#sessions")


@bp.post("/sessions/end-others")
@admin_only
def end_other_sessions() -> BaseResponse:
    """Sign out everywhere else: every session but the caller's."""
    ended = sessions.end_others()
    log.info("event=sessions_ended count=%d client=%s", ended, request.remote_addr)
    return redirect(url_for("views.library") + "#sessions")
