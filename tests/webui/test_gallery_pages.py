"""The photo-app pages without JavaScript (Flask test client over a real indexed library):
timeline home, filters without a query, relevance folding, viewer prev/next, query-image URLs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge_app.settings import Settings
from tests.webui.conftest import PASSWORD, csrf_from
from tests.webui.gallery_fixtures import build_library
from webui.app import create_app
from webui.gallery import PAGE_SIZE
from webui.state import web_state

CARD = re.compile(r'<li class="card" data-photo-id="(\d+)"')
STRONG = re.compile(r'<ul class="grid" id="results".*?</ul>', re.S)


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, toy_bundle: Path, shapes_photos: list[Any]
) -> Iterator[Any]:
    from edge_app.context import AppContext

    root = tmp_path_factory.mktemp("gallery") / "data"
    settings = Settings(data_dir=root, bundle_dir=toy_bundle, backend_prefer="onnxruntime",
                        host="127.0.0.1", batch_size=16, decode_workers=1)  # fmt: skip
    build_library(shapes_photos, settings.library_dir)
    ctx = AppContext.open(settings)
    ctx.index_library()
    yield settings, ctx
    ctx.close()


@pytest.fixture()
def app(indexed: Any) -> Flask:
    settings, ctx = indexed
    app = create_app(settings, ctx)
    if not web_state(app).passwords.is_set():
        web_state(app).passwords.set_password(PASSWORD)
    return app


def _ids(html: str) -> list[int]:
    strong = STRONG.search(html)
    return [int(i) for i in CARD.findall(strong.group(0))] if strong else []


def _names(client: FlaskClient, ids: list[int]) -> list[str]:
    return [client.get(f"/api/photos/{i}").get_json()["rel_path"] for i in ids]


def test_home_is_the_timeline_newest_first_with_load_more(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    ids = _ids(html)
    assert len(ids) == PAGE_SIZE and "Load more" in html
    names = _names(client, ids[:2])
    assert all(n.startswith("2024/trip/") for n in names)  # 2024 EXIF dates before 2019 scans
    assert "<h2>Wednesday 2 May 2024</h2>" in html or "<h2>Thursday 2 May 2024</h2>" in html
    page2 = client.get("/?page=2").get_data(as_text=True)
    rest = _ids(page2)
    assert len(rest) == 96 - PAGE_SIZE and not set(rest) & set(ids)
    assert "Load more" not in page2
    assert all(n.startswith("scans/") for n in _names(client, rest[-3:]))
    partial = client.get("/?page=2&partial=1").get_data(as_text=True)
    assert "<html" not in partial and _ids(partial) == rest


@pytest.mark.parametrize(
    ("args", "count", "prefix"),
    [
        ("folder=scans", 48, "scans/"),
        ("folder=2024", 48, "2024/trip/"),
        ("date_from=2024-05-02&date_to=2024-05-02", 24, "2024/trip/"),
        # no EXIF date: the file date counts, as on the timeline (docs/API.md, Dates)
        ("date_from=2019-03-02&date_to=2019-03-02", 48, "scans/"),
        ("date_from=2019-01-01", 96, ""),
        ("date_to=2019-12-31", 48, "scans/"),
        ("camera=Nikon", 24, "2024/trip/"),  # NIKON CORPORATION + Nikon are one make
        ("camera=Nikon+D750", 12, "2024/trip/"),
        ("place=France", 48, "2024/trip/"),
        ("place=Lyon,+France", 24, "2024/trip/"),
        ("place=Paris,+France&camera=Canon", 12, "2024/trip/"),
        ("place=Lyon,+France&camera=Canon", 0, ""),  # Canon shots are all in Paris
    ],
)
def test_filters_without_a_query_narrow_the_grid(
    client: FlaskClient, args: str, count: int, prefix: str
) -> None:
    ids = _ids(client.get(f"/?{args}&upto=2").get_data(as_text=True))
    assert len(ids) == count
    assert all(n.startswith(prefix) for n in _names(client, ids[:5]))


def test_filter_choices_are_normalised(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert '<optgroup label="Nikon">' in html and '<optgroup label="Canon">' in html
    assert "456 123" not in html and "NIKON CORPORATION" not in html
    assert '<option value="2024/trip"' in html and '<option value="2024"' in html
    assert '<optgroup label="France">' in html and "Paris (24)" in html


def test_bad_filters_are_clear_errors(client: FlaskClient) -> None:
    for bad in ("date_from=yesterday", "folder=../etc", "like=abc", "qimg=nothex", "page=-1"):
        response = client.get(f"/?{bad}")
        assert response.status_code in (400, 404), bad
    assert "expired" in client.get("/?qimg=" + "0" * 20).get_data(as_text=True)


def test_query_results_fold_weak_matches_and_hide_scores(client: FlaskClient) -> None:
    html = client.get("/?q=a+green+triangle").get_data(as_text=True)
    ids = _ids(html)
    assert 1 <= len(ids) < 96 and "weaker matches" in html
    assert 'class="score"' not in html  # no raw cosine on the grid
    nonsense = client.get("/?q=qwxz+zzkj").get_data(as_text=True)
    assert "No close matches" in nonsense and _ids(nonsense) == []


def test_viewer_prev_next_follow_the_listing(client: FlaskClient) -> None:
    ids = _ids(client.get("/?folder=scans").get_data(as_text=True))
    html = client.get(f"/photos/{ids[1]}?folder=scans&pos=1").get_data(as_text=True)
    assert f"/photos/{ids[0]}?" in html and f"/photos/{ids[2]}?" in html
    assert f"#photo-{ids[1]}" in html  # Esc / Back returns to this card
    first = client.get(f"/photos/{ids[0]}?folder=scans&pos=0").get_data(as_text=True)
    assert 'id="viewer-prev"' not in first and 'id="viewer-next"' in first
    info = client.get(f"/photos/{_trip_id(client)}").get_data(as_text=True)
    for text in ("Paris, Île-de-France, France", "Nikon D750", "kB", "2024/trip"):
        assert text in info, text


def _trip_id(client: FlaskClient) -> int:
    for i in _ids(client.get("/?camera=Nikon+D750&place=France").get_data(as_text=True)):
        return i
    raise AssertionError("no Nikon D750 photo in Paris")


def test_image_search_has_a_reloadable_url(client: FlaskClient, shapes_photos: list[Any]) -> None:
    token = csrf_from(client, "/")
    with shapes_photos[3][0].open("rb") as fh:
        response = client.post("/search/image", data={"csrf_token": token, "image": (fh, "q.jpg"), "folder": "scans"},
                               content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 303
    url = response.headers["Location"]
    assert "qimg=" in url and "folder=scans" in url
    first, again = (client.get(url).get_data(as_text=True) for _ in range(2))
    assert _ids(first) == _ids(again) and _ids(first)
    assert all(n.startswith("scans/") for n in _names(client, _ids(first)))
    qimg = re.search(r"qimg=([0-9a-f]{20})", url)
    assert qimg and client.get(f"/query-images/{qimg.group(1)}").mimetype == "image/jpeg"


def test_more_like_this_shows_its_source_photo(client: FlaskClient) -> None:
    source = _ids(client.get("/?folder=scans").get_data(as_text=True))[0]
    html = client.get(f"/?like={source}").get_data(as_text=True)
    name = _names(client, [source])[0].rpartition("/")[2]
    assert f"More like {name}" in html
    assert 'name="q" value=""' in html  # no cryptic photo:ID in the search box
    assert 'id="query-source"' in html and f"/api/photos/{source}/thumb" in html
    assert source not in _ids(html)


def test_json_routes_for_timeline_folders_cameras_places(client: FlaskClient) -> None:
    body = client.get("/api/timeline?limit=5&folder=2024").get_json()
    assert len(body["results"]) == 5 and body["has_more"]
    assert body["results"][0]["shown_at"] >= body["results"][-1]["shown_at"]
    assert body["results"][0]["place"] in (
        "Paris, Île-de-France, France",
        "Lyon, Auvergne-Rhône-Alpes, France",
    )
    folders = {f["folder"]: f["photos"] for f in client.get("/api/folders").get_json()["folders"]}
    assert folders == {"2024": 48, "2024/trip": 48, "scans": 48}
    cams = client.get("/api/cameras").get_json()["cameras"]
    assert cams == {"Canon": {"EOS 5D": 12}, "Nikon": {"D5300": 12, "D750": 12}}
    places = client.get("/api/places").get_json()["places"]
    assert places == {"France": {"Lyon": 24, "Paris": 24}}
    bad = client.get("/api/timeline?limit=0")
    assert bad.status_code == 400 and "limit" in bad.get_json()["error"]
    assert client.get("/api/timeline?date_from=soon").status_code == 400


def test_search_api_dates_follow_the_timeline_rule(client: FlaskClient) -> None:
    body = client.get("/api/search?q=a+photo&limit=100&date_to=2019-12-31").get_json()
    names = _names(client, [r["id"] for r in body["results"]])
    assert len(names) == 48 and all(n.startswith("scans/") for n in names)


def test_places_are_stored_at_index_time_not_looked_up_per_request(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edge_app.search import places

    def no_lookup(*_args: object) -> None:
        raise AssertionError("the gallery geocoded GPS positions during a request")

    monkeypatch.setattr(places, "lookup", no_lookup)
    monkeypatch.setattr(places, "lookup_one", no_lookup)
    assert client.get("/api/places").get_json()["places"] == {"France": {"Lyon": 24, "Paris": 24}}
    body = client.get("/api/timeline?limit=3&folder=2024&place=Lyon,+France").get_json()
    assert [r["place"] for r in body["results"]] == ["Lyon, Auvergne-Rhône-Alpes, France"] * 3
    assert _ids(client.get("/?place=Paris,+France&upto=2").get_data(as_text=True))
    info = client.get(f"/photos/{_trip_id(client)}").get_data(as_text=True)
    assert "Paris, Île-de-France, France" in info
    ranked = client.get("/?q=a+red+circle&folder=2024").get_data(as_text=True)
    assert "France" in ranked


def test_search_api_takes_like_and_qimg_as_the_page_does(
    client: FlaskClient, shapes_photos: list[Any]
) -> None:
    source = _ids(client.get("/?folder=scans").get_data(as_text=True))[0]
    page = _ids(client.get(f"/?like={source}&folder=scans").get_data(as_text=True))
    ten = client.get(f"/api/search?like={source}&folder=scans&limit=10").get_json()["results"]
    ids = [r["id"] for r in ten]
    n = min(len(page), 10)
    assert n and ids[:n] == page[:n] and source not in ids
    more = client.get(f"/api/search?like={source}&folder=scans&limit=5&offset=5").get_json()
    assert [r["id"] for r in more["results"]] == ids[5:10]
    token = csrf_from(client, "/")
    with shapes_photos[3][0].open("rb") as fh:
        url = client.post("/search/image", data={"csrf_token": token, "image": (fh, "q.jpg")},
                          content_type="multipart/form-data").headers["Location"]  # fmt: skip
    qimg = re.search(r"qimg=([0-9a-f]{20})", url)
    assert qimg
    page = _ids(client.get(f"/?qimg={qimg.group(1)}").get_data(as_text=True))
    body = client.get(f"/api/search?qimg={qimg.group(1)}&limit=4").get_json()
    n = min(len(page), 4)
    assert n and [r["id"] for r in body["results"]][:n] == page[:n]
    for bad, status in (
        ("like=abc", 400),
        ("like=99999999", 404),
        ("qimg=nothex", 400),
        (f"qimg={'0' * 20}", 404),
        (f"q=dog&like={source}", 400),
        ("", 400),
    ):
        response = client.get(f"/api/search?{bad}")
        assert response.status_code == status, (bad, response.get_json())
        assert response.get_json()["error"]
