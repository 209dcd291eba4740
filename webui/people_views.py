"""HTML pages for People: the grid of people, one page per person, the admin's controls.
Plain forms and links: everything works without JavaScript."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from edge_app.errors import FacesError, PeopleHiddenError
from webui import people_services as ps
from webui.auth import admin_only, current_role
from webui.state import web_state

bp = Blueprint("people_views", __name__)


@bp.app_template_global("people_visible")
def people_visible() -> bool:
    """For the nav bar: signed-out pages (setup, login) never open the library for it."""
    return current_role() is not None and ps.visible(web_state())


@bp.get("/people")
def people_page(error: str | None = None, status: int = 200) -> Any:
    state = web_state()
    shown = ps.visible(state)
    if not shown and ps.enabled(state):
        raise PeopleHiddenError("People is not shared with guests: ask the admin")
    body = render_template(
        "people.html", people=ps.people(state) if shown else [], settings=ps.settings_json(state),
        what=ps.WHAT_IS_STORED, error=error,
    )  # fmt: skip
    return body, status


@bp.get("/people/<int:person_id>")
def person_page(person_id: int, error: str | None = None, status: int = 200) -> Any:
    state = web_state()
    person, faces, photo_ids = ps.person(state, person_id)
    others = [p for p in ps.people(state) if p.id != person_id]
    body = render_template("person.html", person=person, faces=faces, photo_ids=photo_ids[:200],
                           others=others, error=error)  # fmt: skip
    return body, status


@bp.post("/people/settings")
@admin_only
def change_settings() -> BaseResponse:
    state = web_state()
    on = request.form.get("enabled") == "1"
    if not on and request.form.get("confirm") != "yes":
        return people_page(
            error="tick the box to confirm: turning off deletes every face", status=400
        )
    ps.change_settings(state, {"enabled": on, "guests": request.form.get("guests") == "1"})
    return redirect(url_for("people_views.people_page"))


def _back(person_id: int) -> BaseResponse:
    return redirect(url_for("people_views.person_page", person_id=person_id))


@bp.post("/people/<int:person_id>/name")
@admin_only
def name(person_id: int) -> Any:
    try:
        ps.name(web_state(), person_id, {"name": request.form.get("name") or None})
    except FacesError as exc:
        return person_page(person_id, error=str(exc), status=400)
    return _back(person_id)


@bp.post("/people/<int:person_id>/merge")
@admin_only
def merge(person_id: int) -> Any:
    source = request.form.get("source", "")
    if not source.isdigit():
        return person_page(person_id, error="pick the person to merge into this one", status=400)
    ps.merge(web_state(), person_id, {"people": [int(source)]})
    return _back(person_id)


@bp.post("/people/<int:person_id>/split")
@admin_only
def split(person_id: int) -> Any:
    faces = [int(f) for f in request.form.getlist("face") if f.isdigit()]
    if not faces:
        return person_page(person_id, error="tick the faces to move to a new person", status=400)
    new = ps.split(web_state(), {"faces": faces})
    return redirect(url_for("people_views.person_page", person_id=new.id))


@bp.post("/people/<int:person_id>/faces/<int:face_id>/reject")
@admin_only
def reject(person_id: int, face_id: int) -> BaseResponse:
    ps.reject(web_state(), face_id)
    return _back(person_id)


@bp.post("/people/<int:person_id>/forget")
@admin_only
def forget(person_id: int) -> Any:
    if request.form.get("confirm") != "yes":
        return person_page(
            person_id, error="tick the box to confirm: forgetting deletes their faces", status=400
        )
    ps.forget(web_state(), person_id)
    return redirect(url_for("people_views.people_page"))
