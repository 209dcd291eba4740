"""Things pages in headless Chromium with JavaScript OFF, against the real daemon subprocess:
the admin creates a label set with the plain form, the daemon's job re-tags, the Things
page shows the tag with its cover, the tag page lists the photos, the photo panel shows it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from build_engines.shapes import COLORS, SHAPES
from tests.webui.conftest import PASSWORD
from tests.webui.daemon_process import browser_tls_args, playwright_trusting
from tests.webui.test_e2e_browser import CHROMIUM, CHROMIUM_ARGS, _wait_indexed, daemon  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium"),
]


@pytest.fixture(autouse=True)
def _tag_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy library's calibrated threshold (docs/TAGS.md); no built-in set (speed)."""
    monkeypatch.setenv("EDGE_TAG_THRESHOLD", "0.75")
    monkeypatch.setenv("EDGE_TAG_BUILTIN_SETS", "")


def _wait_tags(page: Any, base: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        tags: list[dict[str, Any]] = page.request.get(f"{base}/api/tags").json()["tags"]
        if tags:
            return tags
        time.sleep(0.5)
    pytest.fail("no tags appeared")


def test_things_without_javascript(
    daemon: tuple[str, Path, subprocess.Popen[bytes]],  # noqa: F811
    shapes_photos: list[tuple[Path, Any]],
    artifacts_dir: Path,
) -> None:
    base, data, _proc = daemon
    colour = {p.name: s.color for p, s in shapes_photos}
    token = (data / "setup_token").read_text().strip()
    with playwright_trusting(data) as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *browser_tls_args(data)]
        )
        page = browser.new_context(java_script_enabled=False).new_page()
        page.goto(f"{base}/setup")
        page.fill("input[name=token]", token)
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=confirm]", PASSWORD)
        page.click("button[type=submit]")
        _wait_indexed(page, base, len(shapes_photos))
        page.goto(f"{base}/things")
        page.fill("input[name=name]", "colours")
        lines = [f"{c}: " + "; ".join(f"a {c} {s}" for s in SHAPES) for c in COLORS]
        page.fill("textarea[name=labels]", "\n".join(lines))
        page.click("form.label-set-form button")
        page.wait_for_url(f"{base}/things")
        _wait_tags(page, base)
        page.goto(f"{base}/things")
        page.screenshot(path=str(artifacts_dir / "webui-things.png"), full_page=True)
        assert page.locator('#things li[data-tag="red"] img').count() == 1
        page.click('#things li[data-tag="red"] a.thumb')
        page.wait_for_selector("#results li.card")
        names = []
        for card in page.locator("#results li.card").all():
            meta = page.request.get(
                f"{base}/api/photos/{card.get_attribute('data-photo-id')}"
            ).json()
            names.append(meta["name"])
        assert sum(colour[n] == "red" for n in names) >= 0.9 * len(names)
        page.click("#results li.card a.thumb >> nth=0")
        page.wait_for_selector(".photo-tags")
        assert page.locator(".photo-tags a", has_text="red").count() == 1
        page.screenshot(path=str(artifacts_dir / "webui-photo-tags.png"), full_page=True)
        browser.close()
