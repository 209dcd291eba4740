"""A Chinese query finds red circles through the bilingual toy bundle on every surface:
the `edge-app` CLI, the JSON API (percent-encoded UTF-8), the HTML form and Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge_app.cli.main import EXIT_OK, main
from edge_app.settings import Settings
from tests.webui.conftest import (
    PASSWORD,
    admin_app,
    copy_photos,
    indexed_photos,
)
from tests.webui.daemon_process import browser_tls_args, playwright_trusting, running_daemon

Shapes = list[tuple[Path, Any]]
QUERY = "红色的圆形"  # "a red circle"
_CARD_ID = re.compile(r'data-photo-id="(\d+)"')


def _red_circles(shapes: Shapes) -> set[str]:
    return {p.name for p, s in shapes if (s.color, s.shape) == ("red", "circle")}


def test_photos_hold_red_circles(shapes_photos: Shapes) -> None:
    assert len(_red_circles(shapes_photos)) >= 1  # otherwise the tests below prove nothing


def test_cli_chinese_query(
    tmp_path: Path,
    bilingual_bundle: Path,
    shapes_photos: Shapes,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "data"
    copy_photos(shapes_photos, data / "library")
    base = ["--data-dir", str(data), "--bundle", str(bilingual_bundle)]
    assert main([*base, "index", "--json"]) == EXIT_OK
    capsys.readouterr()
    assert main([*base, "search", QUERY, "--limit", "1", "--json"]) == EXIT_OK
    body = json.loads(capsys.readouterr().out)
    assert body["query"] == QUERY
    assert Path(body["results"][0]["path"]).name in _red_circles(shapes_photos)


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, bilingual_bundle: Path, shapes_photos: Shapes
) -> Iterator[tuple[Settings, Any]]:
    with indexed_photos(
        tmp_path_factory.mktemp("zh") / "data", bilingual_bundle, shapes_photos
    ) as pair:
        yield pair


@pytest.fixture()
def app(indexed: tuple[Settings, Any]) -> Flask:
    return admin_app(*indexed)


def _name(client: FlaskClient, photo_id: int) -> str:
    name: str = client.get(f"/api/photos/{photo_id}").get_json()["name"]
    return name


def test_api_percent_encoded_utf8(client: FlaskClient, shapes_photos: Shapes) -> None:
    red = _red_circles(shapes_photos)
    k = min(len(red), 3)
    body = client.get(f"/api/search?q={quote(QUERY)}&limit={k}").get_json()
    assert [_name(client, r["id"]) in red for r in body["results"]] == [True] * k
    grammar = quote("“红色的圆形” － “三角形”")  # full-width quotes and minus
    top = client.get(f"/api/search?q={grammar}&limit=1").get_json()["results"][0]
    assert _name(client, top["id"]) in red


def test_html_form(client: FlaskClient, shapes_photos: Shapes) -> None:
    response = client.get(f"/?q={quote(QUERY)}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and QUERY in html
    ids = [int(x) for x in _CARD_ID.findall(html)]
    assert ids and _name(client, ids[0]) in _red_circles(shapes_photos)


@pytest.mark.browser
def test_chinese_query_in_chromium(
    tmp_path: Path, bilingual_bundle: Path, shapes_photos: Shapes, artifacts_dir: Path
) -> None:
    from tests.webui import test_e2e_browser as e2e

    if not e2e.CHROMIUM.is_file():
        pytest.skip("needs /usr/bin/chromium (apt-get install chromium)")
    data = tmp_path / "data"
    copy_photos(shapes_photos, data / "library")
    log = tmp_path / "daemon.log"
    with running_daemon(data, bilingual_bundle, log) as (base, _proc):
        red = _red_circles(shapes_photos)
        with playwright_trusting(data) as pw:
            browser = pw.chromium.launch(
                executable_path=str(e2e.CHROMIUM),
                args=[*e2e.CHROMIUM_ARGS, *browser_tls_args(data)],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/")
            page.fill("input[name=token]", (data / "setup_token").read_text().strip())
            page.fill("input[name=password]", PASSWORD)
            page.fill("input[name=confirm]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            e2e._wait_indexed(page, base, len(shapes_photos))
            page.fill("input[name=q]", QUERY)
            page.press("input[name=q]", "Enter")
            page.wait_for_selector("#results li.card")
            page.screenshot(path=str(artifacts_dir / "webui-search-chinese.png"))
            ids = e2e._result_ids(page)[: min(len(red), 3)]
            names = [page.request.get(f"{base}/api/photos/{i}").json()["name"] for i in ids]
            browser.close()
        assert all(n in red for n in names), names
