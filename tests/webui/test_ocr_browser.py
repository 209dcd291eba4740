"""The photo page's recognised text in headless Chromium: boxes over the photo line up with
the text, hovering a line highlights its box (and back), the text is selectable, and the
"text match" badge shows in results. Real app served over HTTPS by the daemon's server,
real PP-OCR results; Chromium trusts the box's key by its pin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.webui.conftest import PASSWORD
from tests.webui.daemon_process import browser_tls_args, playwright_trusting
from tests.webui.live_server import live_server
from tests.webui.test_e2e_browser import CHROMIUM, CHROMIUM_ARGS
from tests.webui.test_ocr_web import indexed  # noqa: F401  (module fixture reused)
from webui.app import create_app
from webui.state import web_state

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium"),
]


@pytest.fixture()
def served(indexed: tuple[Any, Any]) -> Iterator[str]:  # noqa: F811
    settings, ctx = indexed
    app = create_app(settings, ctx)
    if not web_state(app).passwords.is_set():
        web_state(app).passwords.set_password(PASSWORD)
    with live_server(app, settings) as srv:
        yield srv.base_url


def test_hover_highlights_boxes_and_text_is_selectable(
    served: str,
    indexed: tuple[Any, Any],  # noqa: F811
    artifacts_dir: Path,
) -> None:
    pin = browser_tls_args(indexed[0].data_dir)
    with playwright_trusting(indexed[0].data_dir) as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *pin])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{served}/login")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f'{served}/?q=text:"part 4711"')
        badge = page.locator("#results li.card .text-match")
        assert badge.count() == 1 and badge.inner_text() == "text match"
        page.click("#results li.card a.thumb >> nth=0")
        page.wait_for_selector(".ocr-line")
        page.wait_for_function("document.getElementById('photo-img').naturalWidth > 0")
        line, box = page.locator(".ocr-line").first, page.locator(".ocr-box").first
        assert line.inner_text() == "PART 4711"
        assert "active" not in (box.get_attribute("class") or "")
        line.hover()
        assert "active" in (box.get_attribute("class") or "")
        page.screenshot(path=str(artifacts_dir / "webui-ocr-photo.png"), full_page=True)
        img = page.locator("#photo-img").bounding_box()
        rect = box.bounding_box()
        assert img is not None and rect is not None
        assert img["x"] <= rect["x"] and rect["x"] + rect["width"] <= img["x"] + img["width"]
        assert img["y"] <= rect["y"] and rect["y"] + rect["height"] <= img["y"] + img["height"]
        page.mouse.move(0, 0)
        assert "active" not in (box.get_attribute("class") or "")
        box.hover()
        assert "active" in (line.get_attribute("class") or "")
        line.select_text()  # as a person selecting the line to copy it
        assert page.evaluate("window.getSelection().toString()").strip() == "PART 4711"
        assert line.evaluate("el => getComputedStyle(el).userSelect") != "none"
        browser.close()
