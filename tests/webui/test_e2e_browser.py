"""End to end in headless Chromium: the real daemon (`edge_app.appliance.daemon` as a subprocess)
with the toy-shapes bundle over a generated library of coloured shapes.

Checks that "a green triangle" finds green triangles (ground truth: the ShapeSpec each
file was drawn from, looked up through the photo id's metadata from the API), that
search by uploaded image works, and that a photo page renders. Screenshots go to
test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.webui.conftest import PASSWORD
from tests.webui.daemon_process import (
    START_TIMEOUT_S,
    browser_tls_args,
    playwright_trusting,
    running_daemon,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture()
def daemon(
    tmp_path: Path, toy_bundle: Path, shapes_photos: list[tuple[Path, Any]]
) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """`edge_app.appliance.daemon` serving on a free loopback port; yields (base URL, data dir, proc)."""
    data = tmp_path / "data"
    library = data / "library"
    library.mkdir(parents=True)
    for path, _spec in shapes_photos:
        shutil.copy2(path, library / path.name)
    log = tmp_path / "daemon.log"
    with running_daemon(data, toy_bundle, log) as (base, proc):
        yield base, data, proc
    assert proc.returncode == 0, log.read_text()[-4000:]
    events = [json.loads(line).get("msg", "") for line in log.read_text().splitlines() if line]
    assert any("event=stopped" in e for e in events)


def _wait_indexed(page: Any, base: str, expected: int) -> dict[str, Any]:
    """Poll /api/status (with the browser's session) until every photo is indexed."""
    deadline = time.monotonic() + START_TIMEOUT_S
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = page.request.get(f"{base}/api/status").json()
        if status["counts"]["indexed"] >= expected and status["progress"]["state"] == "done":
            return status
        time.sleep(0.5)
    pytest.fail(f"indexing did not finish: {status}")


def _result_ids(page: Any) -> list[int]:
    cards = page.locator("#results li.card")
    return [int(cards.nth(i).get_attribute("data-photo-id")) for i in range(cards.count())]


def _specs_of(page: Any, base: str, ids: list[int], specs: dict[str, Any]) -> list[Any]:
    """Ground truth of displayed results: the photo's metadata (API) -> its ShapeSpec."""
    out = []
    for photo_id in ids:
        meta = page.request.get(f"{base}/api/photos/{photo_id}").json()
        out.append(specs[meta["name"]])
    return out


def test_search_in_browser(
    daemon: tuple[str, Path, subprocess.Popen[bytes]],
    shapes_photos: list[tuple[Path, Any]],
    artifacts_dir: Path,
) -> None:
    base, data, _proc = daemon
    specs = {path.name: spec for path, spec in shapes_photos}
    token = (data / "setup_token").read_text().strip()
    with playwright_trusting(data) as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *browser_tls_args(data)]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/")
        assert page.url.endswith("/setup")
        page.screenshot(path=str(artifacts_dir / "webui-setup.png"))
        page.fill("input[name=token]", token)
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=confirm]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")

        _wait_indexed(page, base, len(shapes_photos))
        page.goto(f"{base}/library")
        page.screenshot(path=str(artifacts_dir / "webui-library.png"), full_page=True)

        page.goto(f"{base}/")
        page.fill("input[name=q]", "a green triangle")
        page.press("input[name=q]", "Enter")
        page.wait_for_selector("#results li.card")
        page.screenshot(path=str(artifacts_dir / "webui-search-green-triangle.png"))
        top = _specs_of(page, base, _result_ids(page)[:3], specs)
        assert [(s.color, s.shape) for s in top] == [("green", "triangle")] * 3

        query_path, query_spec = next(
            (p, s) for p, s in shapes_photos if (s.color, s.shape) == ("blue", "square")
        )
        page.goto(f"{base}/")
        page.set_input_files("#image-input", str(query_path))  # change event submits
        page.wait_for_selector("#results li.card")
        page.screenshot(path=str(artifacts_dir / "webui-search-by-image.png"))
        first = _specs_of(page, base, _result_ids(page)[:1], specs)[0]
        assert first == query_spec  # the identical file is its own best match

        page.click("#results li.card a.thumb >> nth=0")
        page.wait_for_selector("#photo-img")
        assert page.eval_on_selector("#photo-img", "img => img.naturalWidth") > 0
        assert page.locator("a[download]").count() == 1
        page.screenshot(path=str(artifacts_dir / "webui-photo.png"), full_page=True)

        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.goto(f"{base}/?q=a+red+star")
        page.screenshot(path=str(artifacts_dir / "webui-phone.png"), full_page=True)
        browser.close()
