"""The photo app in headless Chromium against the real daemon (subprocess, toy-shapes bundle)
over a library with folders, EXIF dates, cameras and GPS (`tests.webui.gallery_fixtures`).

Screenshots of every page at 1366x900 go to test-artifacts/gallery-*.png.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.webui.conftest import PASSWORD
from tests.webui.daemon_process import browser_tls_args, playwright_trusting, running_daemon
from tests.webui.gallery_fixtures import build_library
from tests.webui.test_e2e_browser import CHROMIUM, CHROMIUM_ARGS, _wait_indexed

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (apt-get install chromium)"
    ),
]
VIEWPORT: Any = {"width": 1366, "height": 900}  # playwright ViewportSize
N_PHOTOS = 96


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, toy_bundle: Path, shapes_photos: list[Any]
) -> Iterator[tuple[str, Path]]:
    """The daemon over the gallery library; yields (base URL, data dir)."""
    tmp = tmp_path_factory.mktemp("gallery-browser")
    data = tmp / "data"
    build_library(shapes_photos, data / "library")
    with running_daemon(data, toy_bundle, tmp / "daemon.log") as (base, _proc):
        yield base, data


@pytest.fixture(scope="module")
def page(served: tuple[str, Path]) -> Iterator[Any]:
    """One logged-in Chromium page for the module (first-run setup done through the UI)."""
    base, data = served
    with playwright_trusting(data) as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *browser_tls_args(data)]
        )
        pg = browser.new_page(viewport=VIEWPORT)
        pg.goto(f"{base}/")
        pg.fill("input[name=token]", (data / "setup_token").read_text().strip())
        pg.fill("input[name=password]", PASSWORD)
        pg.fill("input[name=confirm]", PASSWORD)
        pg.click("button[type=submit]")
        pg.wait_for_url(f"{base}/")
        _wait_indexed(pg, base, N_PHOTOS)
        yield pg
        browser.close()


def _cards(page: Any) -> list[int]:
    return [
        int(x)
        for x in page.eval_on_selector_all(
            "#results li.card", "els => els.map(e => e.dataset.photoId)"
        )
    ]


def _until(page: Any, js: str, timeout_s: float = 30.0) -> None:
    """Poll a JS expression (wait_for_function evals a string, which the app's CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(js):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {js}")
        time.sleep(0.1)


def _scroll_to_end(page: Any) -> None:
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")


def test_home_grid_without_query_loads_more_on_scroll(
    page: Any, served: tuple[str, Path], artifacts_dir: Path
) -> None:
    base, _ = served
    page.goto(f"{base}/")
    first = _cards(page)
    assert len(first) == 48 and page.locator("#results li.day h2").count() >= 2
    page.screenshot(path=str(artifacts_dir / "gallery-home.png"))
    _scroll_to_end(page)
    _until(page, "document.querySelectorAll('#results li.card').length > 48")
    after = _cards(page)
    assert len(after) == N_PHOTOS and after[:48] == first and len(set(after)) == N_PHOTOS
    assert page.locator("#load-more").count() == 0


def test_filters_without_query_narrow_the_grid(
    page: Any, served: tuple[str, Path], artifacts_dir: Path
) -> None:
    base, _ = served
    page.goto(f"{base}/")
    page.click(".filters-panel > summary")  # the filters fold away (phones first)
    page.select_option("select[name=folder]", "scans")
    page.select_option("select[name=camera]", "")
    page.click("fieldset.filters button[type=submit]")
    page.wait_for_url("**folder=scans**")
    ids = _cards(page)
    assert len(ids) == 48
    names = {page.request.get(f"{base}/api/photos/{i}").json()["rel_path"] for i in ids[:6]}
    assert all(n.startswith("scans/") for n in names)
    page.goto(f"{base}/?place=Lyon%2C+France&camera=Nikon")
    assert len(_cards(page)) == 12  # Nikon (both spellings) in Lyon
    page.screenshot(path=str(artifacts_dir / "gallery-filtered.png"))


def test_viewer_arrows_move_and_escape_returns_to_same_position(
    page: Any, served: tuple[str, Path], artifacts_dir: Path
) -> None:
    base, _ = served
    page.goto(f"{base}/")
    _scroll_to_end(page)
    _until(page, "document.querySelectorAll('#results li.card').length > 48")
    ids = _cards(page)
    target = page.locator("#results li.card").nth(60)
    target.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 37)")
    before = page.evaluate("window.scrollY")
    assert before > 0
    target.locator("a.thumb").click()
    page.wait_for_selector("#viewer")
    assert page.url.startswith(f"{base}/photos/{ids[60]}?")
    page.screenshot(path=str(artifacts_dir / "gallery-viewer.png"))
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"{base}/photos/{ids[61]}?**")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"{base}/photos/{ids[60]}?**")
    page.keyboard.press("i")
    assert page.locator("#viewer-info").is_hidden()
    page.keyboard.press("i")
    assert page.locator("#viewer-info").is_visible()
    page.keyboard.press("Escape")
    page.wait_for_selector(f"#photo-{ids[60]}")
    _until(page, f"Math.abs(window.scrollY - {before}) < 2", 5)
    assert page.locator(f"#photo-{ids[60]}").is_visible()
    assert _cards(page)[:61] == ids[:61]


def test_image_search_url_reloads_to_same_results(
    page: Any, served: tuple[str, Path], shapes_photos: list[Any], artifacts_dir: Path
) -> None:
    base, _ = served
    page.goto(f"{base}/")
    page.set_input_files("#image-input", str(shapes_photos[5][0]))
    page.wait_for_url("**qimg=**")
    page.wait_for_selector("#query-source img")
    ids = _cards(page)
    assert ids
    page.screenshot(path=str(artifacts_dir / "gallery-image-search.png"))
    url = page.url
    page.reload()
    assert _cards(page) == ids
    page.goto(f"{base}/")
    page.goto(url)
    assert (
        _cards(page) == ids
        and page.eval_on_selector("#query-source img", "i => i.naturalWidth") > 0
    )


def test_nonsense_query_says_no_close_matches(
    page: Any, served: tuple[str, Path], artifacts_dir: Path
) -> None:
    base, _ = served
    page.goto(f"{base}/")
    page.fill("input[name=q]", "qwxz zzkj")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("#summary")
    assert "No close matches" in page.inner_text("#summary")
    assert _cards(page) == [] and page.locator("details#weak").count() == 1
    page.screenshot(path=str(artifacts_dir / "gallery-nonsense.png"))
    page.goto(f"{base}/?q=a+green+triangle")
    assert 0 < len(_cards(page)) < N_PHOTOS
    page.screenshot(path=str(artifacts_dir / "gallery-search.png"))


def test_screenshots_of_other_pages(
    page: Any, served: tuple[str, Path], artifacts_dir: Path
) -> None:
    base, _ = served
    page.goto(f"{base}/library")
    assert "photos indexed" in page.inner_text("#st-headline")
    page.screenshot(path=str(artifacts_dir / "gallery-library.png"), full_page=True)
    page.goto(f"{base}/")
    first = _cards(page)[0]
    page.goto(f"{base}/?like={first}")
    page.wait_for_selector("#query-source")
    page.screenshot(path=str(artifacts_dir / "gallery-more-like-this.png"))
    for name in ("duplicates", "import"):
        page.goto(f"{base}/{name}")
        page.screenshot(path=str(artifacts_dir / f"gallery-{name}.png"), full_page=True)
