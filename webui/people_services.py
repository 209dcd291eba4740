"""The web app's view of People: the one module calling the face store for the UI/API.

Who sees what: People is off until the admin turns it on; guests see it only when the
admin allows (`PeopleHiddenError` -> 403), and then only to look: every change is
admin-only. Writes go through the library's writer (a handful of rows each); finding
faces is the daemon's ``faces`` job, queued when People is turned on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_app.enrich.face_pass import forget_person, set_faces_enabled
from edge_app.errors import FacesDisabledError, FacesError, NotFoundError, PeopleHiddenError
from webui.auth import ROLE_ADMIN, current_role

if TYPE_CHECKING:
    from edge_app.library.face_store import StoredFace
    from edge_app.library.people_store import Person
    from webui.state import WebState

_PERSON_TERM = re.compile(r"(?:^|\s|\+)person:", re.IGNORECASE)
WHAT_IS_STORED = (
    "Turning People on finds faces in every indexed photo on this box and stores, per face: "
    "its box in the photo, a quality score, a 128-number face descriptor (biometric data) "
    "and a small crop. Nothing leaves the box. Turning it off deletes all of it."
)


def enabled(state: WebState) -> bool:
    return bool(state.contexts.reader().faces_enabled())


def visible(state: WebState) -> bool:
    """People is on, and the caller is the admin or guests were allowed."""
    reader = state.contexts.reader()  # no engine bundle needed (login pages, nav bar)
    return reader.faces_enabled() and (current_role() == ROLE_ADMIN or reader.faces_for_guests())


def require_visible(state: WebState) -> None:
    reader = state.contexts.reader()
    if not reader.faces_enabled():
        raise FacesDisabledError("People is turned off: the admin turns it on on the People page")
    if current_role() != ROLE_ADMIN and not reader.faces_for_guests():
        raise PeopleHiddenError("People is not shared with guests: ask the admin")


def guard_person_query(state: WebState, query: str) -> None:
    """A ``person:`` search is as private as the People page (People off: the search says so)."""
    if _PERSON_TERM.search(query.replace("＋", "+")) and enabled(state):
        require_visible(state)


def settings_json(state: WebState) -> dict[str, Any]:
    reader = state.contexts.reader()
    return {"enabled": reader.faces_enabled(), "guests": reader.faces_for_guests(),
            "what_is_stored": WHAT_IS_STORED, "counts": reader.face_counts()}  # fmt: skip


def change_settings(state: WebState, body: Any) -> dict[str, Any]:
    """``{"enabled": bool, "guests": bool?}``; off deletes every face; on queues the scan."""
    data = body if isinstance(body, dict) else {}
    on, guests = data.get("enabled"), data.get("guests")
    if not isinstance(on, bool) or not isinstance(guests, bool | None):
        raise FacesError('send JSON {"enabled": true|false, "guests": true|false}')
    set_faces_enabled(state.settings, state.context.library, on, guests if on else False)
    answer = settings_json(state)
    answer["job"] = queue_scan(state) if on else None
    return answer


def queue_scan(state: WebState) -> dict[str, Any] | None:
    if state.jobs is None:
        return None
    try:
        return state.jobs.submit("faces")
    except (RuntimeError, ValueError) as exc:  # shutting down / a queue without faces
        return {"kind": "faces", "state": "refused", "error": str(exc)}


def person_json(p: Person) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "label": p.label, "faces": p.faces, "photos": p.photos,
            "cover_url": f"/api/people/{p.id}/cover" if p.cover_crop else None,
            "page_url": f"/people/{p.id}"}  # fmt: skip


def face_json(f: StoredFace) -> dict[str, Any]:
    return {"id": f.id, "photo_id": f.photo_id, "box": list(f.box), "quality": f.quality,
            "person_id": f.person_id, "pinned": f.pinned, "crop_url": f"/api/faces/{f.id}/crop"}  # fmt: skip


def people(state: WebState) -> list[Person]:
    require_visible(state)
    return list(state.context.reader.people())


def person(state: WebState, person_id: int) -> tuple[Person, list[StoredFace], list[int]]:
    require_visible(state)
    reader = state.contexts.reader()
    return (
        reader.get_person(person_id),
        reader.person_faces(person_id),
        reader.person_photo_ids(person_id),
    )


def crop_file(state: WebState, face_id: int | None = None, person_id: int | None = None) -> Path:
    """The stored crop of a face (or a person's best face); 404 when there is none."""
    require_visible(state)
    reader = state.contexts.reader()
    if person_id is not None:
        rel = reader.get_person(person_id).cover_crop
    else:
        rows = [f for f in reader.faces_by_ids([face_id or 0])]
        rel = rows[0].crop_path if rows else None
    path = (state.settings.thumbs_dir / rel).resolve() if rel else None
    if (
        path is None
        or not path.is_file()
        or not path.is_relative_to(state.settings.thumbs_dir.resolve())
    ):
        raise NotFoundError("no such face crop")
    return path


def _ids(body: Any, key: str) -> list[int]:
    values = body.get(key) if isinstance(body, dict) else None
    if (
        not isinstance(values, list)
        or not values
        or len(values) > 1000
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63 for v in values
        )
    ):
        raise FacesError(f'send JSON {{"{key}": [id, ...]}} with 1 to 1000 ids')
    return values


def name(state: WebState, person_id: int, body: Any) -> Any:
    value = body.get("name") if isinstance(body, dict) else None
    if value is not None and not isinstance(value, str):
        raise FacesError('send JSON {"name": "Ana"} (or null to remove the name)')
    require_visible(state)
    state.context.library.name_person(person_id, value)
    return state.context.library.get_person(person_id)


def merge(state: WebState, person_id: int, body: Any) -> Any:
    require_visible(state)
    state.context.library.merge_people(person_id, _ids(body, "people"))
    return state.context.library.get_person(person_id)


def split(state: WebState, body: Any) -> Any:
    require_visible(state)
    return state.context.library.get_person(
        state.context.library.create_person(_ids(body, "faces"), pinned=True)
    )


def reject(state: WebState, face_id: int) -> None:
    require_visible(state)
    state.context.library.reject_face(face_id)


def forget(state: WebState, person_id: int) -> int:
    require_visible(state)
    return forget_person(state.settings, state.context.library, person_id)
