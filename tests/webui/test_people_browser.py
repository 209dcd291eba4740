"""People in headless Chromium against the real daemon subprocess, real dlib models:
the admin turns People on (the page says what is stored), the daemon's face job finds her
face in three photos, the admin names her on the person page, `person:"Eileen"` finds
them; guests see nothing of it until the admin allows; turning off deletes it all.
Every People page: 390 px and 1366 px wide, no sideways scroll, one h1, axe clean."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.edge_app.faces.faces_fixtures import FACE_PHOTOS, write_face_photos
from tests.webui.conftest import PASSWORD
from tests.webui.daemon_process import browser_tls_args, playwright_trusting, running_daemon
from tests.webui.test_e2e_browser import CHROMIUM, CHROMIUM_ARGS
from tests.webui.test_e2e_phone_a11y import AXE, SIZES, _axe_problems

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium"),
    pytest.mark.skipif(not AXE.is_file(), reason="needs axe-core: run scripts/bootstrap.sh --test"),
]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, faces_bundle: Path
) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("people")
    data = tmp / "data"
    write_face_photos(data / "library")
    env = {"EDGE_GUEST_ACCESS": "1", "EDGE_TAG_BUILTIN_SETS": ""}
    with running_daemon(data, faces_bundle, tmp / "daemon.log", extra_env=env) as (base, _proc):
        yield base, data


def _wait(page: Any, url: str, ready: Any, what: str) -> Any:
    deadline = time.monotonic() + 180
    body: Any = None
    while time.monotonic() < deadline:
        response = page.request.get(url)
        body = response.json() if response.ok else None
        if body is not None and ready(body):
            return body
        time.sleep(0.5)
    pytest.fail(f"{what} did not happen: {body}")


def _check_layout(
    browser: Any, state: Any, base: str, path: str, out: Path
) -> list[str]:
    problems: list[str] = []
    for size, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height},
                                      storage_state=state, bypass_csp=True)  # fmt: skip
        page = context.new_page()
        page.goto(f"{base}{path}")
        page.screenshot(
            path=str(out / f"people{path.replace('/', '-')}-{size}.png"), full_page=True
        )
        problems += [f"{path} {size}: {p}" for p in _axe_problems(page)]
        wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        if size == "phone" and wide:
            problems.append(f"{path} scrolls sideways at 390 px")
        if page.locator("h1").count() != 1:
            problems.append(f"{path} {size}: {page.locator('h1').count()} h1 elements")
        context.close()
    return problems


def test_people_end_to_end_in_a_browser(served: tuple[str, Path], artifacts_dir: Path) -> None:
    base, data = served
    out = artifacts_dir / "ui"
    out.mkdir(exist_ok=True)
    with playwright_trusting(data) as pw:  # API requests verify the box against its CA
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *browser_tls_args(data)]
        )
        admin = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        admin.goto(f"{base}/setup")
        admin.fill("input[name=token]", (data / "setup_token").read_text().strip())
        admin.fill("input[name=password]", PASSWORD)
        admin.fill("input[name=confirm]", PASSWORD)
        admin.click("main button[type=submit]")
        admin.wait_for_url(f"{base}/")
        _wait(admin, f"{base}/api/status", lambda s: s["counts"]["indexed"] == 4, "indexing")
        guest = browser.new_context().new_page()
        assert guest.request.get(f"{base}/api/people").status == 409  # off for everyone

        admin.goto(f"{base}/people")
        assert "128-number face descriptor" in admin.inner_text("#people-settings")
        assert admin.locator("#people li.card").count() == 0
        admin.click("#people-settings form.people-settings button")
        people = _wait(admin, f"{base}/api/people", lambda b: b["people"], "face grouping")[
            "people"
        ]
        assert len(people) == 1 and people[0]["photos"] == 3
        state = admin.context.storage_state()
        problems = _check_layout(browser, state, base, "/people", out)
        problems += _check_layout(browser, state, base, f"/people/{people[0]['id']}", out)
        assert not problems, json.dumps(problems, indent=1)

        admin.goto(f"{base}/people/{people[0]['id']}")
        admin.fill("form.person-name input[name=name]", "Eileen")
        admin.click("form.person-name button")
        admin.wait_for_selector("h1:has-text('Eileen')")
        found = admin.request.get(f"{base}/api/search", params={"q": 'person:"Eileen"'}).json()
        assert sorted(r["name"] for r in found["results"]) == sorted(FACE_PHOTOS)

        hidden = guest.request.get(f"{base}/api/search", params={"q": 'person:"Eileen"'})
        assert hidden.status == 403  # guests: not until the admin allows
        assert guest.request.get(f"{base}/api/people").status == 403
        guest.goto(f"{base}/")
        assert guest.locator("nav a:has-text('People')").count() == 0
        admin.goto(f"{base}/people")
        admin.check("form.people-settings input[name=guests]")
        admin.click("form.people-settings button")
        assert guest.request.get(f"{base}/api/search", params={"q": 'person:"Eileen"'}).ok
        assert guest.request.post(f"{base}/api/people/{people[0]['id']}/forget").status in (
            401,
            403,
        )

        admin.goto(f"{base}/people")
        admin.check("form.people-off input[name=confirm]")
        admin.click("form.people-off button")
        admin.wait_for_selector("text=People is off")
        assert admin.request.get(f"{base}/api/people").status == 409
        assert not (data / "thumbs" / "faces").exists()
        browser.close()
