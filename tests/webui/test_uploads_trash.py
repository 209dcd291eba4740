"""Upload from the browser and the duplicates trash, against the real app: a real SQLite
library indexed by the toy-shapes bundle, FAISS, real files moved on disk. Without the
daemon the app indexes inline after each change, so results are checked right away."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from build_engines.shapes import random_specs, render
from edge_app.appliance.daemon import JobQueue
from edge_app.library.ocr_store import OcrLineRow
from edge_app.library.tags import LabelDef
from edge_app.settings import Settings
from tests.webui.conftest import admin_app, indexed_photos, login
from webui.state import attach_jobs

Shapes = list[tuple[Path, Any]]


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, toy_bundle: Path, shapes_photos: Shapes
) -> Iterator[tuple[Settings, Any]]:
    """Its own indexed library (these tests move files), opened once per module."""
    root = tmp_path_factory.mktemp("uploads") / "data"
    with indexed_photos(root, toy_bundle, shapes_photos[:24]) as pair:
        yield pair


def _app(settings: Settings, ctx: Any) -> Flask:
    app = admin_app(settings, ctx)
    app.config["TESTING"] = True
    return app


@pytest.fixture()
def app(indexed: tuple[Settings, Any]) -> Flask:
    return _app(*indexed)


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    render(random_specs(1, seed)[0]).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _post(client: FlaskClient, files: list[tuple[bytes, str]], url: str = "/api/uploads") -> Any:
    data = {"files": [(io.BytesIO(b), name) for b, name in files]}
    return client.post(url, data=data, content_type="multipart/form-data")


def _names(client: FlaskClient, query: str, limit: int = 100) -> list[str]:
    body = client.get(f"/api/search?q={query}&limit={limit}").get_json()
    return [r["name"] for r in body["results"]]


def _upload_dir(settings: Settings) -> list[Path]:
    return sorted(settings.imports_dir.glob("*_upload/*"))


def test_two_photos_and_a_broken_file(client: FlaskClient, indexed: tuple[Settings, Any]) -> None:
    settings, _ctx = indexed
    before = client.get("/api/status").get_json()["counts"]["indexed"]
    good = [(_jpeg(9001), "phone_1.jpg"), (_jpeg(9002), "phone_2.jpg")]
    broken = (b"\xff\xd8\xff\xe0 not really a jpeg", "broken.jpg")
    response = _post(client, [*good, broken])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["saved"], body["duplicates"], body["errors"]) == (2, 0, 1)
    error = next(f for f in body["files"] if f["status"] == "error")
    assert error["name"] == "broken.jpg" and "not a readable photo" in error["error"]
    assert client.get("/api/status").get_json()["counts"]["indexed"] == before + 2
    assert {"phone_1.jpg", "phone_2.jpg"} <= set(_names(client, "a+photo", 100))
    assert not [p for p in _upload_dir(settings) if p.name.startswith(".")]  # no temp left


def test_duplicate_upload_is_skipped_and_counted(
    client: FlaskClient, shapes_photos: Shapes
) -> None:
    data = shapes_photos[0][0].read_bytes()  # already in the library
    body = _post(client, [(data, "again.jpg")]).get_json()
    assert (body["saved"], body["duplicates"], body["errors"]) == (0, 1, 0)


def test_wrong_type_and_too_big(indexed: tuple[Settings, Any]) -> None:
    settings, ctx = indexed
    small = _app(replace(settings, max_photo_upload_bytes=2000), ctx).test_client()
    small.environ_base["HTTP_X_CSRF_TOKEN"] = login(small)
    body = _post(small, [(b"plain text", "notes.txt"), (_jpeg(9100), "huge.jpg")]).get_json()
    errors = {f["name"]: f["error"] for f in body["files"]}
    assert "not a photo type" in errors["notes.txt"]
    assert "larger than the limit" in errors["huge.jpg"]
    big_request = _post(small, [(b"x" * 1_200_000, "a.jpg")])  # over 20 x 2000 B + 1 MiB
    assert big_request.status_code == 413
    assert "the limit is 1088576 bytes" in big_request.get_json()["error"]


def test_guests_can_never_upload(indexed: tuple[Settings, Any]) -> None:
    settings, ctx = indexed
    guest = _app(replace(settings, guest_access=True), ctx).test_client()
    token = guest.get("/api/session").get_json()["csrf_token"]
    guest.environ_base["HTTP_X_CSRF_TOKEN"] = token
    assert _post(guest, [(_jpeg(9200), "g.jpg")]).status_code == 401
    assert guest.get("/upload").status_code == 302
    assert guest.post("/api/trash", json={"photo_ids": [1]}).status_code == 401
    assert guest.get("/").status_code == 200  # guests still search


def test_upload_needs_the_csrf_token(app: Flask) -> None:
    client = app.test_client()
    login(client)  # logged in, but no X-CSRF-Token header
    response = _post(client, [(_jpeg(9300), "c.jpg")])
    assert response.status_code == 403 and "CSRF" in response.get_json()["error"]


def test_cut_off_request_leaves_nothing(client: FlaskClient, indexed: tuple[Settings, Any]) -> None:
    settings, _ctx = indexed
    before = _upload_dir(settings)
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="cut.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + _jpeg(9400)[:500]
    )
    response = client.post(
        "/api/uploads",
        input_stream=io.BytesIO(body),
        content_type="multipart/form-data; boundary=XyZ",
        headers={"Content-Length": str(len(body) + 50_000)},
    )
    assert response.status_code == 400
    assert _upload_dir(settings) == before


def test_no_js_upload_form(client: FlaskClient) -> None:
    page = client.get("/upload").get_data(as_text=True)
    assert 'accept="image/*"' in page and "multiple" in page
    response = _post(client, [(_jpeg(9500), "form.jpg"), (b"junk", "junk.png")], url="/upload")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 saved" in html and "Error: not a readable photo" in html
    assert client.post("/upload", data={}, content_type="multipart/form-data").status_code == 400


def _id_of(client: FlaskClient, name: str) -> int:
    body = client.get("/api/search?q=a+photo&limit=100").get_json()
    return next(r["id"] for r in body["results"] if r["name"] == name)


def test_trash_and_restore(client: FlaskClient, shapes_photos: Shapes) -> None:
    name = shapes_photos[3][0].name
    photo_id = _id_of(client, name)
    moved = client.post("/api/trash", json={"photo_ids": [photo_id]})
    assert moved.status_code == 200, moved.get_json()
    token = moved.get_json()["items"][0]["token"]
    assert name not in _names(client, "a+photo")
    assert client.get(f"/api/photos/{photo_id}").status_code == 404
    listed = client.get("/api/trash").get_json()["items"]
    assert [i["token"] for i in listed] == [token]
    assert client.get(f"/trash/{token}/thumb").mimetype == "image/jpeg"
    assert "Restore" in client.get("/trash").get_data(as_text=True)
    restored = client.post(f"/api/trash/{token}/restore")
    assert restored.get_json()["rel_path"] == name
    assert name in _names(client, "a+photo")
    assert client.get("/api/trash").get_json()["items"] == []


def test_empty_trash_needs_confirmation(client: FlaskClient, indexed: tuple[Settings, Any]) -> None:
    settings, _ctx = indexed
    photo_id = _id_of(client, "phone_2.jpg")
    client.post("/api/trash", json={"photo_ids": [photo_id]})
    assert client.post("/api/trash/empty", json={}).status_code == 400
    assert client.post("/trash/empty", data={}).status_code == 400  # the no-JS form, unticked
    assert len(client.get("/api/trash").get_json()["items"]) == 1
    assert "cannot be undone" in client.get("/trash/empty").get_data(as_text=True)
    assert client.post("/api/trash/empty", json={"confirm": True}).get_json() == {"deleted": 1}
    assert not list(settings.library_dir.rglob("phone_2.jpg"))


@pytest.mark.parametrize("token", ["..", "20240101T000000-1-abcdef", "x%2F..%2F.."])
def test_trash_tokens_are_checked(client: FlaskClient, token: str) -> None:
    assert client.post(f"/api/trash/{token}/restore").status_code == 404


def test_trash_bad_requests(client: FlaskClient) -> None:
    assert client.post("/api/trash", json={"photo_ids": "1"}).status_code == 400
    assert client.post("/api/trash", json={"photo_ids": [999_999]}).status_code == 404


def test_duplicates_review_page(client: FlaskClient, shapes_photos: Shapes) -> None:
    page = client.get("/duplicates?threshold=0.9")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="0.90"' in html
    assert client.get("/duplicates?threshold=7").status_code == 400
    assert "data-photo-id" in html  # there are groups (shapes repeat at 0.9)
    assert 'alt="photo ' not in html and re.search(r'alt="[^"]+\.jpg', html)


def test_keep_only_this_trashes_the_others(client: FlaskClient, shapes_photos: Shapes) -> None:
    a, b = (_id_of(client, shapes_photos[i][0].name) for i in (5, 6))
    response = client.post(
        "/trash", data={"photo_id": [str(b)], "next": "/duplicates?threshold=0.9"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("threshold=0.9")
    assert client.get(f"/api/photos/{b}").status_code == 404
    assert client.get(f"/api/photos/{a}").status_code == 200
    token = client.get("/api/trash").get_json()["items"][0]["token"]
    client.post(f"/trash/{token}/restore")


def _timeline_ids(client: FlaskClient) -> list[int]:
    return [c["id"] for c in client.get("/api/timeline?limit=200").get_json()["results"]]


def _text_ids(client: FlaskClient, phrase: str) -> list[int]:
    body = client.get("/api/search", query_string={"q": f'text:"{phrase}"'}).get_json()
    return [r["id"] for r in body["results"]]


def test_trash_leaves_at_once_and_restore_keeps_id_tags_and_text(
    indexed: tuple[Settings, Any], shapes_photos: Shapes
) -> None:
    """No re-index runs here (the job queue has no worker): the trash alone must do it."""
    settings, ctx = indexed
    ctx.index_library()  # the live index current (earlier tests of the module wrote)
    app = _app(settings, ctx)
    attach_jobs(app, JobQueue({"reindex": lambda ev, _p: None}, threading.Event()))
    client = app.test_client()
    client.environ_base["HTTP_X_CSRF_TOKEN"] = login(client)
    name = shapes_photos[9][0].name
    photo_id = _id_of(client, name)
    sha = ctx.library.get_photo(photo_id).sha256
    box = ((0.0, 0.0), (9.0, 0.0), (9.0, 3.0), (0.0, 3.0))
    ctx.library.record_ocr(photo_id, sha, "done", [OcrLineRow("QUOKKA 42", 0.9, box)])
    set_id = ctx.library.create_label_set("trash-test", [LabelDef("quokka", ("a quokka",))]).id
    label_id = ctx.library.get_label_set(set_id).labels[0].id
    version = ctx.library.get_label_set(set_id).version
    gen = ctx.library.index_generation()
    ctx.library.save_tags(set_id, version, [], [(photo_id, label_id, 5.0, 0.3)], gen, "b")
    assert photo_id in _timeline_ids(client) and _text_ids(client, "QUOKKA") == [photo_id]

    moved = client.post("/api/trash", json={"photo_ids": [photo_id]})
    token = moved.get_json()["items"][0]["token"]
    assert name not in _names(client, "a+photo")
    assert photo_id not in _timeline_ids(client) and _text_ids(client, "QUOKKA") == []
    assert client.get(f"/api/photos/{photo_id}").status_code == 404
    assert client.get(f"/api/photos/{photo_id}?similar=3").status_code == 404

    assert client.post(f"/api/trash/{token}/restore").get_json()["rel_path"] == name
    assert _id_of(client, name) == photo_id  # links and like=ID URLs keep working
    assert photo_id in _timeline_ids(client) and _text_ids(client, "QUOKKA") == [photo_id]
    assert client.get(f"/api/photos/{photo_id}?similar=3").status_code == 200
    assert [t[1] for t in ctx.library.photo_tags(photo_id)] == ["quokka"]
    # the live index moved with the rows: the next index run keeps it (no rebuild from SQLite)
    assert ctx.store.generation == ctx.library.index_generation()
    ctx.library.delete_label_set(set_id)
    ctx.index_library()  # a later re-index neither drops nor duplicates it
    assert _id_of(client, name) == photo_id and _names(client, "a+photo").count(name) == 1


def _saved_files(settings: Settings) -> list[Path]:
    return [p for p in _upload_dir(settings) if not p.name.startswith(".")]


def test_the_daily_upload_volume_is_capped_per_session(indexed: tuple[Settings, Any]) -> None:
    settings, ctx = indexed
    photo = _jpeg(9101)
    limit = int(len(photo) * 1.5)  # room for one upload of this photo, not two
    app = _app(replace(settings, upload_daily_bytes=limit), ctx)
    first, second = app.test_client(), app.test_client()
    first.environ_base["HTTP_X_CSRF_TOKEN"] = login(first)
    second.environ_base["HTTP_X_CSRF_TOKEN"] = login(second)
    assert _post(first, [(photo, "quota_1.jpg")]).status_code == 200
    before = _saved_files(settings)
    refused = _post(first, [(_jpeg(9102), "quota_2.jpg")])
    assert refused.status_code == 429
    assert "upload_daily_bytes" in refused.get_json()["error"]
    assert _saved_files(settings) == before  # nothing stored for the refused request
    image = {"image": (io.BytesIO(photo), "q.jpg")}
    page = first.post("/search/image", data=image, content_type="multipart/form-data")
    assert page.status_code == 429 and "daily limit" in page.get_data(as_text=True)
    assert _post(second, [(_jpeg(9103), "quota_3.jpg")]).status_code == 200  # per session


def test_uploads_pause_below_the_disk_floor(indexed: tuple[Settings, Any]) -> None:
    """A floor above the disk's real free space (statvfs): 507 with the reason, no file."""
    from edge_app.ingest.disk import free_bytes

    settings, ctx = indexed
    floor = free_bytes(settings.library_dir) + 10**9
    app = _app(replace(settings, min_free_disk_bytes=floor), ctx)
    client = app.test_client()
    client.environ_base["HTTP_X_CSRF_TOKEN"] = login(client)
    before = _saved_files(settings)
    response = _post(client, [(_jpeg(9201), "floor.jpg")])
    assert response.status_code == 507
    assert "min_free_disk_bytes" in response.get_json()["error"]
    assert _saved_files(settings) == before


def test_things_counts_leave_out_a_trashed_photo(
    indexed: tuple[Settings, Any], shapes_photos: Shapes
) -> None:
    """The Things page (and /api/tags) counts what its tag page would list."""
    settings, ctx = indexed
    client = _app(settings, ctx).test_client()
    client.environ_base["HTTP_X_CSRF_TOKEN"] = login(client)
    ids = [_id_of(client, shapes_photos[i][0].name) for i in (12, 13)]
    set_id = ctx.library.create_label_set("things-trash", [LabelDef("wombat", ("a wombat",))]).id
    label_id = ctx.library.get_label_set(set_id).labels[0].id
    version = ctx.library.get_label_set(set_id).version
    rows = [(ids[0], label_id, 9.0, 0.3), (ids[1], label_id, 5.0, 0.2)]
    ctx.library.save_tags(set_id, version, [], rows, ctx.library.index_generation(), "b")

    def wombats() -> tuple[int, int, str]:
        body = client.get("/api/tags").get_json()
        [tag] = [t for t in body["tags"] if t["name"] == "wombat"]
        html = client.get("/things").get_data(as_text=True)
        card = re.search(r'<li class="card" data-tag="wombat">.*?</li>', html, re.S)
        assert card is not None, html
        shown = re.search(r'<span class="count">(\d+)</span>', card.group(0))
        assert shown is not None and int(shown.group(1)) == tag["count"]
        return tag["count"], tag["cover_photo_id"], card.group(0)

    count, cover, card = wombats()
    assert (count, cover) == (2, ids[0]) and f"/api/photos/{ids[0]}/thumb" in card
    token = client.post("/api/trash", json={"photo_ids": [ids[0]]}).get_json()["items"][0]["token"]
    try:
        count, cover, card = wombats()
        assert (count, cover) == (1, ids[1]) and f"/api/photos/{ids[1]}/thumb" in card
        client.post(f"/api/trash/{token}/restore")
        assert wombats()[:2] == (2, ids[0])
    finally:
        ctx.library.delete_label_set(set_id)


def test_uploading_a_trashed_photo_again_restores_it(indexed: tuple[Settings, Any]) -> None:
    """Not a silent "duplicate": the photo comes back from the trash under its old id and
    path, in search at once (what Immich and Google Photos do)."""
    settings, ctx = indexed
    client = _app(settings, ctx).test_client()
    client.environ_base["HTTP_X_CSRF_TOKEN"] = login(client)
    photo = _jpeg(9601)
    first = _post(client, [(photo, "holiday.jpg")]).get_json()["files"][0]
    photo_id = _id_of(client, "holiday.jpg")
    client.post("/api/trash", json={"photo_ids": [photo_id]})
    assert "holiday.jpg" not in _names(client, "a+photo")
    files_before = _saved_files(settings)

    body = _post(client, [(photo, "holiday (1).jpg")]).get_json()

    assert (body["saved"], body["duplicates"], body["restored"]) == (0, 0, 1)
    assert body["files"][0]["status"] == "restored"
    assert body["files"][0]["rel_path"] == first["rel_path"]
    assert _id_of(client, "holiday.jpg") == photo_id  # in search at once, under its old id
    assert client.get("/api/trash").get_json()["items"] == []
    back = settings.library_dir / first["rel_path"]  # back in place, and no second copy
    assert back.is_file() and _saved_files(settings) == sorted([*files_before, back])
    again = _post(client, [(photo, "holiday.jpg")], url="/upload").get_data(as_text=True)
    assert "1 duplicate skipped" in again and "Duplicate, skipped" in again
    client.post("/api/trash", json={"photo_ids": [photo_id]})
    page = _post(client, [(photo, "holiday.jpg")], url="/upload").get_data(as_text=True)
    assert "1 restored from trash" in page and "Restored from trash" in page
