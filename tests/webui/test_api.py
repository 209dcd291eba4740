"""Every JSON API route and page against the real app: a real SQLite library indexed by the
toy-shapes bundle (ONNX Runtime), FAISS, and the real search service."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import TestResponse

from edge_app.appliance.daemon import JobQueue
from edge_app.settings import Settings
from tests.webui.conftest import (
    PASSWORD,
    admin_app,
    copy_photos,
    csrf_from,
    indexed_photos,
    login,
    real_settings,
)
from webui.app import create_app
from webui.state import attach_jobs, web_state

Shapes = list[tuple[Path, Any]]
_settings, _copy_photos = real_settings, copy_photos  # test_tags_api imports these


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, toy_bundle: Path, shapes_photos: Shapes
) -> Iterator[tuple[Settings, Any]]:
    """A fully indexed library (opened once per module: indexing costs seconds)."""
    with indexed_photos(
        tmp_path_factory.mktemp("webapi") / "data", toy_bundle, shapes_photos
    ) as pair:
        yield pair


@pytest.fixture()
def app(indexed: tuple[Settings, Any]) -> Flask:
    return admin_app(*indexed)


def _spec_of(client: FlaskClient, photo_id: int, shapes: Shapes) -> Any:
    name = client.get(f"/api/photos/{photo_id}").get_json()["name"]
    return {p.name: s for p, s in shapes}[name]


def _png(img: Image.Image) -> io.BytesIO:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    buf.seek(0)
    return buf


def test_text_search_finds_green_triangles(client: FlaskClient, shapes_photos: Shapes) -> None:
    body = client.get("/api/search?q=a+green+triangle&limit=3").get_json()
    assert len(body["results"]) == 3 and body["has_more"]
    specs = [_spec_of(client, r["id"], shapes_photos) for r in body["results"]]
    assert [(s.color, s.shape) for s in specs] == [("green", "triangle")] * 3
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_search_pagination_is_consistent(client: FlaskClient) -> None:
    whole = client.get("/api/search?q=a+red+star&limit=10").get_json()["results"]
    second = client.get("/api/search?q=a+red+star&limit=5&offset=5").get_json()["results"]
    assert [r["id"] for r in second] == [r["id"] for r in whole[5:10]]


def test_min_score_filter(client: FlaskClient) -> None:
    top = client.get("/api/search?q=a+blue+square&limit=1").get_json()["results"][0]
    body = client.get(f"/api/search?q=a+blue+square&min_score={top['score'] - 1e-6}").get_json()
    assert [r["id"] for r in body["results"]] == [top["id"]]


@pytest.mark.parametrize(
    "query",
    ["", "q=dog&limit=0", "q=dog&limit=x", "q=dog&date_from=yesterday", "q=dog&folder=../etc"],
)
def test_bad_search_parameters_are_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/search?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_image_search_finds_the_same_picture(client: FlaskClient, shapes_photos: Shapes) -> None:
    path, spec = shapes_photos[5]
    with Image.open(path) as img:
        upload = _png(img.convert("RGB"))
    response = client.post(
        "/api/search/image?limit=1",
        data={"image": (upload, "q.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    assert _spec_of(client, response.get_json()["results"][0]["id"], shapes_photos) == spec


def test_non_image_upload_is_400(client: FlaskClient) -> None:
    data = {"image": (io.BytesIO(b"%PDF-1.4 not an image"), "x.jpg")}
    response = client.post("/api/search/image", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "not a readable image" in response.get_json()["error"]


def _upload_with(
    indexed: tuple[Settings, Any], root: Path, image: tuple[io.BytesIO, str], **extra: Any
) -> TestResponse:
    """POST `image` to /api/search/image on a fresh app whose settings add `extra`."""
    settings, ctx = indexed
    app = create_app(real_settings(root / "d", settings.bundle_dir, **extra), ctx)
    web_state(app).passwords.set_password(PASSWORD)
    client = app.test_client()
    token = login(client)
    return client.post(
        "/api/search/image",
        data={"image": image},
        headers={"X-CSRF-Token": token},
        content_type="multipart/form-data",
    )


def test_decompression_bomb_upload_is_400(indexed: tuple[Settings, Any], tmp_path: Path) -> None:
    image = (_png(Image.new("RGB", (200, 200))), "big.png")
    response = _upload_with(indexed, tmp_path, image, max_image_pixels=10_000)
    assert response.status_code == 400
    assert "pixels" in response.get_json()["error"]


def test_oversized_upload_is_413(indexed: tuple[Settings, Any], tmp_path: Path) -> None:
    image = (io.BytesIO(b"\xff" * 4096), "big.jpg")
    response = _upload_with(indexed, tmp_path, image, max_upload_bytes=1024)
    assert response.status_code == 413
    assert "1024" in response.get_json()["error"]


def test_photo_routes(client: FlaskClient, shapes_photos: Shapes) -> None:
    photo_id = client.get("/api/search?q=a+red+star&limit=1").get_json()["results"][0]["id"]
    meta = client.get(f"/api/photos/{photo_id}?similar=3").get_json()
    assert meta["id"] == photo_id and meta["width"] == 256 and len(meta["similar"]) == 3
    assert photo_id not in [s["id"] for s in meta["similar"]]
    thumb = client.get(f"/api/photos/{photo_id}/thumb")
    assert thumb.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.data)).size[0] <= 256
    preview = client.get(f"/api/photos/{photo_id}/preview?size=128")
    assert max(Image.open(io.BytesIO(preview.data)).size) == 128
    original = client.get(f"/api/photos/{photo_id}/file")
    assert "attachment" in original.headers["Content-Disposition"]
    source = {p.name: p for p, _ in shapes_photos}[meta["name"]]
    assert original.data == source.read_bytes()


@pytest.mark.parametrize("suffix", ["", "/thumb", "/preview", "/file"])
def test_unknown_photo_is_json_404(client: FlaskClient, suffix: str) -> None:
    response = client.get(f"/api/photos/987654{suffix}")
    assert response.status_code == 404
    assert "987654" in response.get_json()["error"]


def test_duplicates(client: FlaskClient) -> None:
    body = client.get("/api/duplicates").get_json()
    assert isinstance(body["groups"], list)
    assert client.get("/api/duplicates?threshold=2").status_code == 400


def test_status(client: FlaskClient, shapes_photos: Shapes) -> None:
    body = client.get("/api/status").get_json()
    assert body["counts"]["indexed"] == len(shapes_photos)
    assert body["progress"]["state"] == "done"
    assert body["engine"]["bundle_id"].startswith("toy-shapes")
    assert 0 <= body["system"]["memory_percent"] <= 100


def test_embed_text_and_image(client: FlaskClient, shapes_photos: Shapes) -> None:
    text = client.post("/api/embed/text", json={"texts": ["a red circle", "a blue star"]})
    vectors = np.asarray(text.get_json()["embeddings"], dtype=np.float32)
    assert vectors.shape == (2, text.get_json()["dim"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert client.post("/api/embed/text", json={"texts": "x"}).status_code == 400
    files = [(open(p, "rb"), p.name) for p, _ in shapes_photos[:2]]  # noqa: SIM115
    image = client.post(
        "/api/embed/image", data={"image": files}, content_type="multipart/form-data"
    )
    assert np.asarray(image.get_json()["embeddings"]).shape == vectors.shape


def test_reindex_queues_a_job(app: Flask, indexed: tuple[Settings, Any]) -> None:
    _settings_, ctx = indexed
    stop = threading.Event()
    jobs = JobQueue({"reindex": lambda ev, _p: ctx.index_library(stop_event=ev)}, stop)
    attach_jobs(app, jobs)
    worker = threading.Thread(target=jobs.run_worker)
    worker.start()
    client = app.test_client()
    token = login(client)
    response = client.post("/api/reindex", headers={"X-CSRF-Token": token})
    deadline = time.monotonic() + 120  # let the worker finish the job before shutting down
    while not jobs.snapshot()["recent"] and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs.close()
    worker.join(timeout=120)
    assert response.status_code == 202 and response.get_json()["kind"] == "reindex"
    assert jobs.snapshot()["recent"][0]["state"] == "done"


def test_pages_render_without_javascript(client: FlaskClient) -> None:
    html = client.get("/?q=a+green+triangle").get_data(as_text=True)
    assert 'loading="lazy"' in html and "More like this" in html
    photo_id = client.get("/api/search?q=a+green+triangle&limit=1").get_json()["results"][0]["id"]
    assert f'data-photo-id="{photo_id}"' in html
    assert client.get(f"/photos/{photo_id}").status_code == 200
    missing = client.get("/photos/987654")
    assert missing.status_code == 404 and "text/html" in missing.content_type
    assert client.get("/duplicates").status_code == 200
    assert "Re-index" in client.get("/library").get_data(as_text=True)
    assert "Import from USB" in client.get("/import").get_data(as_text=True)


def test_search_by_image_form(client: FlaskClient, shapes_photos: Shapes) -> None:
    token = csrf_from(client, "/")
    with shapes_photos[0][0].open("rb") as fh:
        response = client.post(
            "/search/image",
            data={"csrf_token": token, "image": (fh, "x.jpg")},
            content_type="multipart/form-data",
        )
    assert response.status_code == 303  # results live at a GET URL with a query-image token
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "Photos like your image" in page.get_data(as_text=True)


def test_search_while_indexing(tmp_path: Path, toy_bundle: Path, shapes_photos: Shapes) -> None:
    """Searches keep answering while the indexer commits batches in another thread.

    The progress listener pauses the indexer right after its first committed batch until
    the searches ran, so they overlap indexing by construction, not by timing luck.
    """
    from edge_app.context import AppContext

    settings = real_settings(tmp_path / "data", toy_bundle)
    copy_photos(shapes_photos, settings.library_dir)
    ctx = AppContext.open(settings)
    app = create_app(settings, ctx)
    web_state(app).passwords.set_password(PASSWORD)
    client = app.test_client()
    login(client)
    first_batch, searched = threading.Event(), threading.Event()

    def on_progress(snap: dict[str, Any]) -> None:
        if snap["done"] > 0 and not first_batch.is_set():
            first_batch.set()
            searched.wait(timeout=120)

    ctx.progress.add_listener(on_progress)
    indexer = threading.Thread(target=ctx.index_library)
    indexer.start()
    try:
        assert first_batch.wait(timeout=120)
        during = [client.get("/api/search?q=a+red+circle&limit=5") for _ in range(5)]
        status = client.get("/api/status").get_json()
    finally:
        searched.set()
        indexer.join(timeout=300)
        ctx.close()
    assert all(r.status_code == 200 for r in during)
    assert status["progress"]["state"] == "indexing"
    assert status["progress"]["done"] < len(shapes_photos)


def test_the_library_page_lists_sessions_and_ends_them(app: Flask) -> None:
    """Two logins: both rows on the Library page (one marked as this browser); "End" on
    the other one refuses its cookie at once; "Log out" on our own row logs us out."""
    import re

    mine, other = app.test_client(), app.test_client()
    token = login(mine)
    login(other)
    mine.environ_base["HTTP_USER_AGENT"] = "pytest-browser"
    page = mine.get("/library").get_data(as_text=True)
    rows = re.findall(r'<tr data-session-id="(\d+)">(.*?)</tr>', page, re.S)
    assert len(rows) >= 2
    own = [sid for sid, html in rows if "(this browser)" in html]
    assert len(own) == 1
    victim = max(int(sid) for sid, _ in rows if sid != own[0])
    reply = mine.post(f"/sessions/{victim}/end", data={"csrf_token": token})
    assert reply.status_code == 302
    assert other.get("/api/session").get_json()["role"] is None
    assert mine.get("/api/session").get_json()["role"] == "admin"
    guest = app.test_client()
    assert guest.get("/library").status_code == 302  # not logged in: no list, login page
    reply = mine.post(f"/sessions/{own[0]}/end", data={"csrf_token": token})
    assert reply.status_code == 302 and reply.headers["Location"].endswith("/login")
    assert mine.get("/api/session").get_json()["role"] is None
