"""Phones, accessibility, upload and trash in headless Debian Chromium, against the real
daemon (`edge_app.appliance.daemon` as a subprocess, toy-shapes bundle).

Every page in `_pages` is opened at 390x844 and 1366x900, light and dark: no sideways
scrolling at 390 px, one h1, and no serious/critical axe-core violation (axe-core from npm,
installed by ``scripts/bootstrap.sh --test`` under .cache/node). Screenshots of each go to
test-artifacts/ui/ for a person to look at. The list is generic on purpose: a new page
only needs its URL added.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.webui.conftest import PASSWORD
from tests.webui.daemon_process import (
    REPO,
    START_TIMEOUT_S,
    browser_tls_args,
    playwright_trusting,
    running_daemon,
)
from tests.webui.test_e2e_browser import CHROMIUM, CHROMIUM_ARGS

AXE = REPO / ".cache" / "node" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
SCHEMES = ("light", "dark")
N_PHOTOS = 16
DUPLICATE = "zz_copy_of_first.jpg"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (apt-get install chromium)"
    ),
    pytest.mark.skipif(not AXE.is_file(), reason="needs axe-core: run scripts/bootstrap.sh --test"),
]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    toy_bundle: Path,
    shapes_photos: list[tuple[Path, Any]],
) -> Iterator[tuple[str, Path]]:
    """The daemon over 16 shapes, an exact copy of the first (a duplicate group) and a
    broken file (a skipped-files row); yields (base URL, data dir)."""
    tmp = tmp_path_factory.mktemp("phone")
    data = tmp / "data"
    library = data / "library"
    library.mkdir(parents=True)
    for path, _spec in shapes_photos[:N_PHOTOS]:
        shutil.copy2(path, library / path.name)
    shutil.copy2(shapes_photos[0][0], library / DUPLICATE)
    (library / "a_very_long_file_name_that_has_no_spaces_at_all_0123456789.jpg").write_bytes(b"no")
    _past_import(data)
    log = tmp / "daemon.log"
    with running_daemon(data, toy_bundle, log) as (base, proc):
        yield base, data
    assert proc.returncode == 0, log.read_text()[-4000:]


def _past_import(data: Path) -> None:
    """One finished USB import session, so the import table has a row to reflow."""
    from edge_app.library.store import Library

    with Library(data / "library.db") as lib:
        session = lib.start_import(
            "usb:CAMERA_CARD_0001", "CAMERA_CARD", "imports/2024-05-01_CAMERA"
        )
        lib.set_import_found(session.id, 5)
        lib.finish_import(session.id, "failed", "the stick was pulled out while copying")


@pytest.fixture(scope="module")
def browser(served: tuple[str, Path]) -> Iterator[Any]:
    with playwright_trusting(served[1]) as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *browser_tls_args(served[1])]
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def admin_state(served: tuple[str, Path], browser: Any, artifacts_dir: Path) -> dict[str, Any]:
    """First-run setup in the browser (a wrong try first: the token must survive it),
    then wait for indexing; returns the logged-in storage state."""
    base, data = served
    token = (data / "setup_token").read_text().strip()
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    (artifacts_dir / "ui").mkdir(exist_ok=True)
    page.goto(f"{base}/setup")
    page.fill("input[name=token]", token)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD + "x")
    page.click("main button[type=submit]")
    page.wait_for_selector("p.error")
    assert page.input_value("input[name=token]") == token  # kept after the error
    page.screenshot(path=str(artifacts_dir / "ui" / "setup-error-phone-light.png"), full_page=True)
    assert _axe_problems(page) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")
    _wait_indexed(page, base, N_PHOTOS + 1)
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


def _wait_indexed(page: Any, base: str, expected: int) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_S
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = page.request.get(f"{base}/api/status").json()
        jobs = status.get("jobs") or {}
        idle = not jobs.get("current") and not jobs.get("queued")
        if (
            status["counts"]["indexed"] == expected
            and status["progress"]["state"] == "done"
            and idle
        ):
            return status
        time.sleep(0.3)
    pytest.fail(f"indexing did not reach {expected} photos: {status}")


def _search_names(page: Any, base: str, query: str = "a photo") -> list[str]:
    body = page.request.get(f"{base}/api/search", params={"q": query, "limit": 100}).json()
    return [r["name"] for r in body["results"]]


def _pages(page: Any, base: str) -> dict[str, str]:
    """Every page of the app by a short name (the first photo id comes from the API)."""
    first = page.request.get(f"{base}/api/search", params={"q": "a red circle", "limit": 1}).json()
    photo_id = first["results"][0]["id"]
    return {
        "search": "/",
        "results": "/?q=a+red+circle",
        "filtered": "/?q=a+red+circle&date_from=2001-01-01&min_score=0.1",  # filters open
        "photo": f"/photos/{photo_id}",
        "duplicates": "/duplicates",
        "library": "/library",
        "import": "/import",
        "upload": "/upload",
        "trash": "/trash",
        "trash-empty": "/trash/empty",
        "account": "/account",
        "login": "/login",
        "not-found": "/photos/999999",
    }


# The elements sticking out on the right, to make a failure easy to fix.
_WIDEST = """Array.from(document.querySelectorAll('body *'))
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .slice(-4).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') +
    ' right=' + Math.round(e.getBoundingClientRect().right))"""


def _axe_problems(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_fits_and_passes_axe(
    served: tuple[str, Path],
    browser: Any,
    admin_state: dict[str, Any],
    artifacts_dir: Path,
    size: str,
    scheme: str,
) -> None:
    base, _data = served
    width, height = SIZES[size]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        color_scheme=scheme,
        storage_state=admin_state,
        bypass_csp=True,  # CSP would block the injected axe script
    )
    page = context.new_page()
    out = artifacts_dir / "ui"
    out.mkdir(exist_ok=True)
    problems: dict[str, list[str]] = {}
    for name, path in _pages(page, base).items():
        page.goto(f"{base}{path}")
        page.wait_for_load_state("load")
        page.screenshot(path=str(out / f"{name}-{size}-{scheme}.png"), full_page=True)
        found = _axe_problems(page)
        sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if size == "phone" and sizes[0] > sizes[1]:
            wide = page.evaluate(_WIDEST)
            found.append(f"scrolls sideways: scrollWidth {sizes[0]} > {sizes[1]}: {wide}")
        if page.locator("h1").count() != 1:
            found.append(f"{page.locator('h1').count()} h1 elements")
        if found:
            problems[name] = found
    context.close()
    assert not problems, json.dumps(problems, indent=1)


def test_first_result_within_three_tabs(
    served: tuple[str, Path], browser: Any, admin_state: dict[str, Any]
) -> None:
    base, _data = served
    context = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=admin_state)
    page = context.new_page()
    page.goto(f"{base}/?q=a+red+circle")
    page.locator("[role=search] input[name=q]").first.focus()
    first = page.locator("#results a").first.get_attribute("href")
    tabs = 0
    while tabs < 3:
        page.keyboard.press("Tab")
        tabs += 1
        if page.evaluate("document.activeElement.classList.contains('skip-link')"):
            box = page.evaluate("document.activeElement.getBoundingClientRect().toJSON()")
            assert box["left"] >= 0 and box["width"] > 0  # visible when focused
            page.keyboard.press("Enter")
        if page.evaluate("document.activeElement.getAttribute('href')") == first:
            break
    assert page.evaluate("document.activeElement.getAttribute('href')") == first, f"{tabs} tabs"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus
    context.close()


def _real_jpeg(seed: int, path: Path) -> Path:
    from build_engines.shapes import random_specs, render

    render(random_specs(1, seed)[0], size=(640, 480)).save(path, "JPEG", quality=90)
    return path


def test_upload_two_photos_and_a_broken_file(
    served: tuple[str, Path],
    browser: Any,
    admin_state: dict[str, Any],
    tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    base, _data = served
    files = [
        _real_jpeg(77001, tmp_path / "beach_day.jpg"),
        _real_jpeg(77002, tmp_path / "city_night.jpg"),
    ]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"this is not a photo" * 10)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=admin_state, bypass_csp=True
    )
    page = context.new_page()
    page.goto(f"{base}/upload")
    page.set_input_files("#upload-files", [str(p) for p in [*files, broken]])
    page.click("#upload-form button[type=submit]")
    from playwright.sync_api import expect

    finished = page.locator("#upload-list .status-saved, #upload-list .status-error")
    expect(finished).to_have_count(3, timeout=60_000)  # (CSP forbids wait_for_function's eval)
    page.screenshot(path=str(artifacts_dir / "ui" / "upload-done-phone-light.png"), full_page=True)
    assert page.locator("#upload-list .status-saved").count() == 2
    error = page.locator("#upload-list .status-error").inner_text()
    assert "broken.jpg" in error and "not a readable photo" in error
    assert "2 saved" in page.inner_text("#upload-summary")
    assert _axe_problems(page) == []  # the progress list too
    _wait_indexed(page, base, N_PHOTOS + 3)
    assert {"beach_day.jpg", "city_night.jpg"} <= set(_search_names(page, base))
    context.close()


def test_trash_and_restore_a_duplicate(
    served: tuple[str, Path], browser: Any, admin_state: dict[str, Any], artifacts_dir: Path
) -> None:
    base, _data = served
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=admin_state, bypass_csp=True
    )
    page = context.new_page()
    expected = page.request.get(f"{base}/api/status").json()["counts"]["indexed"]
    page.goto(f"{base}/duplicates")
    card = page.locator("li.card", has=page.locator(f"img[alt^='{DUPLICATE}']"))
    assert card.count() == 1
    card.locator("button.trash-one").click()
    page.wait_for_url("**/duplicates*")
    _wait_indexed(page, base, expected - 1)
    assert DUPLICATE not in _search_names(page, base)
    page.goto(f"{base}/trash")
    page.screenshot(
        path=str(artifacts_dir / "ui" / "trash-with-item-phone-light.png"), full_page=True
    )
    page.locator("li.card", has=page.locator(f"text={DUPLICATE}")).locator("button.restore").click()
    page.wait_for_url(f"{base}/trash")
    _wait_indexed(page, base, expected)
    assert DUPLICATE in _search_names(page, base)
    context.close()
