"""The People JSON API over a real library whose faces the real dlib models found:
each write changes what search returns; bad input is a clear 400/404/409, never a 500."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.edge_app.faces.faces_fixtures import FACE_PHOTOS, scanned_library
from tests.webui.conftest import admin_app, real_settings
from webui.state import web_state


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, faces_bundle: Path) -> Path:
    return scanned_library(tmp_path_factory.mktemp("people-api") / "data", faces_bundle)


@pytest.fixture
def app(scanned: Path, tmp_path: Path, faces_bundle: Path) -> Iterator[Flask]:
    from edge_app.context import AppContext

    shutil.copytree(scanned, tmp_path / "data")
    settings = real_settings(tmp_path / "data", faces_bundle, guest_access=True)
    with AppContext.open(settings) as ctx:
        app = admin_app(settings, ctx)
        app.config["TESTING"] = True
        yield app


def _names(client: FlaskClient, query: str) -> list[str]:
    response = client.get("/api/search", query_string={"q": query})
    assert response.status_code == 200, response.get_json()
    return sorted(r["name"] for r in response.get_json()["results"])


def _her(client: FlaskClient) -> dict[str, Any]:
    people = client.get("/api/people").get_json()["people"]
    assert len(people) == 1 and people[0]["photos"] == 3
    named = client.post(f"/api/people/{people[0]['id']}/name", json={"name": "Eileen"})
    assert named.status_code == 200 and named.get_json()["label"] == "Eileen"
    return dict(named.get_json())


def test_name_split_merge_reject_change_search(client: FlaskClient) -> None:
    her = _her(client)
    assert _names(client, 'person:"Eileen"') == sorted(FACE_PHOTOS)
    faces = client.get(f"/api/people/{her['id']}").get_json()["faces"]
    assert len(faces) == 3 and client.get(faces[0]["crop_url"]).mimetype == "image/jpeg"
    split = client.post("/api/people/split", json={"faces": [faces[0]["id"]]})
    assert split.status_code == 201
    assert len(_names(client, 'person:"Eileen"')) == 2
    merged = client.post(
        f"/api/people/{her['id']}/merge", json={"people": [split.get_json()["id"]]}
    )
    assert merged.status_code == 200 and merged.get_json()["faces"] == 3
    assert _names(client, 'person:"Eileen"') == sorted(FACE_PHOTOS)
    assert client.post(f"/api/faces/{faces[1]['id']}/reject").status_code == 200
    assert len(_names(client, 'person:"Eileen"')) == 2


def test_forget_and_turning_off(client: FlaskClient, app: Flask) -> None:
    her = _her(client)
    forgot = client.post(f"/api/people/{her['id']}/forget")
    assert forgot.status_code == 200 and forgot.get_json()["crops_deleted"] == 3
    assert client.get("/api/search", query_string={"q": 'person:"Eileen"'}).status_code == 400
    off = client.post("/api/people/settings", json={"enabled": False})
    assert off.status_code == 200 and off.get_json()["counts"]["faces"] == 0
    assert client.get("/api/people").status_code == 409
    thumbs = web_state(app).settings.thumbs_dir
    assert not (thumbs / "faces").exists()
    on = client.post("/api/people/settings", json={"enabled": True})
    assert on.status_code == 200 and on.get_json()["job"] is None  # no daemon: nothing queued


BAD = [
    ("post", "/api/people/1/name", {"name": 'say "hi"'}, 400),
    ("post", "/api/people/1/name", {"name": 5}, 400),
    ("post", "/api/people/999/name", {"name": "Bo"}, 404),
    ("post", "/api/people/1/merge", {"people": "2"}, 400),
    ("post", "/api/people/1/merge", {"people": [999]}, 404),
    ("post", "/api/people/split", {"faces": []}, 400),
    ("post", "/api/people/split", {"faces": [999]}, 404),
    ("post", "/api/faces/999/reject", None, 404),
    ("post", "/api/people/999/forget", None, 404),
    ("post", "/api/people/settings", {"enabled": "yes"}, 400),
    ("get", "/api/faces/999/crop", None, 404),
    ("get", "/api/people/999", None, 404),
]


def test_bad_requests_are_clear(client: FlaskClient) -> None:
    """One app for every case (opening a real context per case would cost seconds each)."""
    for method, url, body, status in BAD:
        response = getattr(client, method)(url, json=body)
        assert response.status_code == status, (url, body, response.get_data(as_text=True))
        assert response.get_json()["error"]


def test_guests_see_people_only_when_allowed(client: FlaskClient, app: Flask) -> None:
    _her(client)
    guest = app.test_client()
    assert guest.get("/api/people").status_code == 403
    assert guest.get("/api/search", query_string={"q": "person:Eileen"}).status_code == 403
    assert guest.get("/people").status_code == 403
    assert (
        client.post("/api/people/settings", json={"enabled": True, "guests": True}).status_code
        == 200
    )
    assert guest.get("/api/people").status_code == 200
    assert _names(guest, "person:Eileen") == sorted(FACE_PHOTOS)
    assert guest.post("/api/people/1/forget").status_code in (401, 403)  # looking only
