"""JSON API for People (documented in docs/API.md, "People", and webui/openapi/people.yaml).

Reads need People on and, for guests, the admin's consent; every write is admin-only and
CSRF-checked like the rest of the API.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, send_file

from webui import people_services as ps
from webui.auth import admin_only
from webui.state import web_state

bp = Blueprint("people_api", __name__, url_prefix="/api")


@bp.get("/people/settings")
def people_settings() -> Response:
    """On/off, guests allowed, what is stored, and the face counts."""
    return jsonify(ps.settings_json(web_state()))


@bp.post("/people/settings")
@admin_only
def change_people_settings() -> Response:
    """Turn People on (queues the face scan) or off (deletes every face, person and crop)."""
    return jsonify(ps.change_settings(web_state(), request.get_json(silent=True)))


@bp.get("/people")
def people() -> Response:
    return jsonify(people=[ps.person_json(p) for p in ps.people(web_state())])


@bp.get("/people/<int:person_id>")
def person(person_id: int) -> Response:
    found, faces, photo_ids = ps.person(web_state(), person_id)
    return jsonify(person=ps.person_json(found), faces=[ps.face_json(f) for f in faces],
                   photo_ids=photo_ids)  # fmt: skip


@bp.get("/people/<int:person_id>/cover")
def person_cover(person_id: int) -> Response:
    return send_file(ps.crop_file(web_state(), person_id=person_id), mimetype="image/jpeg")


@bp.get("/faces/<int:face_id>/crop")
def face_crop(face_id: int) -> Response:
    return send_file(ps.crop_file(web_state(), face_id=face_id), mimetype="image/jpeg")


@bp.post("/people/<int:person_id>/name")
@admin_only
def name_person(person_id: int) -> Response:
    return jsonify(ps.person_json(ps.name(web_state(), person_id, request.get_json(silent=True))))


@bp.post("/people/<int:person_id>/merge")
@admin_only
def merge_people(person_id: int) -> Response:
    """``{"people": [ids]}``: their faces join this person; they are removed."""
    return jsonify(ps.person_json(ps.merge(web_state(), person_id, request.get_json(silent=True))))


@bp.post("/people/split")
@admin_only
def split_faces() -> tuple[Response, int]:
    """``{"faces": [ids]}``: those faces become a new person (201)."""
    return jsonify(ps.person_json(ps.split(web_state(), request.get_json(silent=True)))), 201


@bp.post("/faces/<int:face_id>/reject")
@admin_only
def reject_face(face_id: int) -> Response:
    """ "Not this person": the face leaves its person and is never given back to them."""
    ps.reject(web_state(), face_id)
    return jsonify(ok=True)


@bp.post("/people/<int:person_id>/forget")
@admin_only
def forget_person(person_id: int) -> Response:
    """Delete the person's faces and crops; their new faces are dropped, never stored."""
    return jsonify(forgotten=person_id, crops_deleted=ps.forget(web_state(), person_id))
