"""Recognised text in the web UI and API, over a library read by the real PP-OCR models."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge_app.enrich.ocr_pass import run_ocr
from edge_app.settings import Settings
from tests.edge_app.enrich.ocr_fixtures import NO_TEXT, write_text_photos
from tests.webui.conftest import admin_app, indexed_context, real_settings


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, ocr_bundle: Path
) -> Iterator[tuple[Settings, Any]]:
    settings = real_settings(tmp_path_factory.mktemp("ocrweb") / "data", ocr_bundle)
    write_text_photos(settings.library_dir)
    with indexed_context(settings) as ctx:
        run_ocr(settings, ctx.library)
        yield settings, ctx


@pytest.fixture()
def app(indexed: tuple[Settings, Any]) -> Flask:
    return admin_app(*indexed)


def _id(client: FlaskClient, query: str) -> int:
    first: int = client.get(f"/api/search?q={query}").get_json()["results"][0]["id"]
    return first


def test_api_search_marks_text_matches(client: FlaskClient) -> None:
    body = client.get('/api/search?q=text:"WAREHOUSE"').get_json()
    [hit] = body["results"]
    assert hit["name"] == "sign_en.jpg" and hit["text_match"] == "WAREHOUSE"
    plain = client.get("/api/search?q=warehouse&limit=3").get_json()["results"]
    assert plain[0]["text_match"] == "WAREHOUSE" and plain[1]["text_match"] is None


def test_results_page_shows_the_text_match_badge(client: FlaskClient) -> None:
    html = client.get("/?q=text:银行").get_data(as_text=True)
    assert 'class="text-match" title="text in the photo: 中国银行"' in html


def test_photo_page_shows_selectable_text_and_boxes(client: FlaskClient) -> None:
    photo_id = _id(client, 'text:"part 4711"')
    html = client.get(f"/photos/{photo_id}").get_data(as_text=True)
    assert re.search(r'<li class="ocr-line" data-line="0"[^>]*>PART 4711</li>', html)
    polygon = re.search(r'<polygon class="ocr-box" data-line="0" points="([^"]+)"', html)
    assert polygon is not None
    points = [tuple(map(float, p.split(","))) for p in polygon.group(1).split()]
    assert len(points) == 4 and all(0.0 <= v <= 1.0 for p in points for v in p)
    assert "/static/ocr.js" in html and " style=" not in html  # CSP: no inline styles


def test_photo_api_text_and_status(client: FlaskClient) -> None:
    photo_id = _id(client, "text:欢迎光临")
    body = client.get(f"/api/photos/{photo_id}/text").get_json()
    assert body["state"] == "done" and body["text"] == "欢迎光临"
    assert body["lines"][0]["score"] > 0.9 and len(body["lines"][0]["box"]) == 4
    status = client.get("/api/ocr/status").get_json()
    assert status == {
        "counts": {"done": 4, "no_text": 1, "failed": 0, "pending": 0},
        "failures": [],
    }
    assert client.get("/api/photos/999999/text").status_code == 404


def test_photo_without_text_says_so(client: FlaskClient) -> None:
    cat = next(
        r["id"]
        for r in client.get("/api/search?q=a+cat&limit=10").get_json()["results"]
        if r["name"] == NO_TEXT[0]
    )
    assert client.get(f"/api/photos/{cat}/text").get_json()["state"] == "no_text"
    assert "No text found." in client.get(f"/photos/{cat}").get_data(as_text=True)


def test_text_routes_need_login(app: Flask) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/api/ocr/status").status_code == 401
    assert anonymous.get("/api/photos/1/text").status_code == 401


def test_status_and_library_page_show_text_and_tag_progress(client: FlaskClient) -> None:
    status = client.get("/api/status").get_json()
    assert status["ocr"] == {"done": 4, "no_text": 1, "failed": 0, "pending": 0}
    assert {"sets", "tagged_photos", "waiting_sets"} <= set(status["tags"])
    html = client.get("/library").get_data(as_text=True)
    assert re.search(r'<dt>Text read</dt><dd data-key="ocr_read">5</dd>', html)
    assert re.search(r'<dt>Waiting to be read</dt><dd data-key="ocr_pending">0</dd>', html)
    waiting = status["tags"]["waiting_sets"]
    assert f'<dd data-key="tags_waiting_sets">{waiting}</dd>' in html
