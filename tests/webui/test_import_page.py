"""The Import page and /api/imports against the real app: a real folder import (standing in
for a USB stick) into a real SQLite library, and a real ``import_mode = "ask"`` request
published by `usb_commands.await_approval` and answered through the web API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from edge_app.settings import Settings
from edge_app.usb.commands import EXIT_DONE, await_approval, import_command, pending_imports
from edge_app.usb.detect import ImportRequest
from tests.webui.conftest import PASSWORD
from webui.app import create_app
from webui.state import web_state

COLOURS = ("red", "green", "blue")


def _write_stick(root: Path) -> None:
    """Three distinct JPEGs, one byte-identical copy of the first, and an empty file."""
    (root / "DCIM" / "100CANON").mkdir(parents=True)
    (root / "backup").mkdir()
    for i, colour in enumerate(COLOURS):
        Image.new("RGB", (64, 48), colour).save(root / "DCIM" / "100CANON" / f"IMG_{i}.jpg")
    (root / "backup" / "IMG_0.jpg").write_bytes((root / "DCIM/100CANON/IMG_0.jpg").read_bytes())
    (root / "DCIM" / "100CANON" / "EMPTY.jpg").write_bytes(b"")


@pytest.fixture(scope="module")
def imported(
    tmp_path_factory: pytest.TempPathFactory, toy_bundle: Path
) -> Iterator[tuple[Settings, Any, Path]]:
    """The app's settings and context, after one finished import of a folder 'stick'."""
    from edge_app.context import AppContext

    root = tmp_path_factory.mktemp("imports")
    settings = Settings(
        data_dir=root / "data",
        bundle_dir=toy_bundle,
        backend_prefer="onnxruntime",
        host="127.0.0.1",
        decode_workers=1,
    )
    stick = root / "STICK"
    _write_stick(stick)
    ctx = AppContext.open(settings)
    assert import_command(settings, stick, index=False) == EXIT_DONE
    yield settings, ctx, stick
    ctx.close()


@pytest.fixture()
def app(imported: tuple[Settings, Any, Path]) -> Flask:
    settings, ctx, _stick = imported
    app = create_app(settings, ctx)
    app.config["TESTING"] = True
    if not web_state(app).passwords.is_set():
        web_state(app).passwords.set_password(PASSWORD)
    return app


def test_api_lists_the_finished_import(client: FlaskClient) -> None:
    body = client.get("/api/imports").get_json()
    assert body["pending"] == [] and body["active"] is False
    (session,) = body["sessions"]
    assert session["label"] == "STICK" and session["state"] == "done"
    assert (session["found"], session["copied"]) == (5, 3)
    assert (session["skipped_duplicate"], session["failed"]) == (1, 1)
    assert session["reason"] == "1 file(s) could not be copied"
    assert session["safe_to_remove"] is True and session["phase"] == "finished"
    assert session["bytes_copied"] > 0 and session["bytes_display"].endswith("KB")

    one = client.get(f"/api/imports/{session['id']}")
    assert one.status_code == 200 and one.get_json() == session


def test_unknown_session_is_404(client: FlaskClient) -> None:
    response = client.get("/api/imports/9999")
    assert response.status_code == 404
    assert "9999" in response.get_json()["error"]


def test_page_renders_the_session_without_js(client: FlaskClient) -> None:
    html = client.get("/import").get_data(as_text=True)
    assert "not yet available" not in html
    assert 'data-state="done"' in html and "Safe to remove the USB stick" in html
    assert "<td>5</td><td>3</td><td>1</td><td>1</td>" in html
    assert "No stick is waiting." in html and "<script" in html and "onclick" not in html


def test_api_needs_login(app: Flask) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/api/imports").status_code == 401
    response = anonymous.post("/api/imports/pending/sdz1", json={"approve": True})
    assert response.status_code == 401
    assert response.get_json() == {"error": "login required"}
    assert anonymous.get("/import").status_code == 302


class _Waiting:
    """A real ask-mode request: `await_approval` in a thread, as the import unit runs it."""

    def __init__(self, settings: Settings, name: str, mount: Path) -> None:
        request = ImportRequest(f"fs-uuid:{name}", "HOLIDAY", mount, device=f"/dev/{name}")
        self.stop = threading.Event()
        self.result: list[bool] = []

        def run() -> None:
            self.result.append(await_approval(settings, request, self.stop.is_set, poll_s=0.02))

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 5
        while not any(p.name == name for p in pending_imports(settings)):
            assert time.monotonic() < deadline, "the request file never appeared"
            time.sleep(0.01)

    def answer(self) -> bool:
        self.thread.join(timeout=5)
        self.stop.set()
        assert self.result, "await_approval did not return"
        return self.result[0]


@pytest.mark.parametrize("approve", [True, False])
def test_pending_stick_is_answered_via_api(
    client: FlaskClient, imported: tuple[Settings, Any, Path], approve: bool
) -> None:
    settings, _ctx, stick = imported
    waiting = _Waiting(settings, "sdz1", stick)
    try:
        body = client.get("/api/imports").get_json()
        assert body["pending"] == [{"name": "sdz1", "label": "HOLIDAY", "device": "/dev/sdz1"}]
        assert body["active"] is True
        html = client.get("/import").get_data(as_text=True)
        assert 'data-name="sdz1"' in html and 'value="import"' in html

        no_token = client.post(
            "/api/imports/pending/sdz1", json={"approve": approve}, headers={"X-CSRF-Token": ""}
        )
        assert no_token.status_code == 403 and "CSRF" in no_token.get_json()["error"]
        bad = client.post("/api/imports/pending/sdz1", json={"approve": "yes"})
        assert bad.status_code == 400 and "approve" in bad.get_json()["error"]

        ok = client.post("/api/imports/pending/sdz1", json={"approve": approve})
        assert ok.status_code == 200
        assert ok.get_json() == {"name": "sdz1", "approved": approve}
        assert waiting.answer() is approve
    finally:
        waiting.stop.set()
        waiting.thread.join(timeout=5)
    assert pending_imports(settings) == []
    assert client.get("/api/imports").get_json()["pending"] == []


def test_page_form_answers_without_js(
    client: FlaskClient, imported: tuple[Settings, Any, Path]
) -> None:
    settings, _ctx, stick = imported
    waiting = _Waiting(settings, "sdy1", stick)
    try:
        token = client.environ_base.pop("HTTP_X_CSRF_TOKEN")
        refused = client.post("/import/pending/sdy1", data={"decision": "import"})
        assert refused.status_code == 403
        response = client.post(
            "/import/pending/sdy1", data={"decision": "import", "csrf_token": token}
        )
        assert response.status_code == 302 and response.headers["Location"].endswith("/import")
        assert waiting.answer() is True
    finally:
        waiting.stop.set()
        waiting.thread.join(timeout=5)


def test_unknown_pending_stick_is_404(client: FlaskClient) -> None:
    response = client.post("/api/imports/pending/sdq9", json={"approve": True})
    assert response.status_code == 404
    assert "sdq9" in response.get_json()["error"]


def test_guest_sees_imports_but_cannot_answer(imported: tuple[Settings, Any, Path]) -> None:
    """A guest sees progress but cannot answer; also the app without an opened context,
    which reads the sessions through its own short-lived reader."""
    settings, _ctx, stick = imported
    guest_settings = replace(settings, guest_access=True)
    guest = create_app(guest_settings).test_client()
    waiting = _Waiting(guest_settings, "sdx1", stick)
    try:
        assert guest.get("/api/imports").get_json()["sessions"][0]["state"] == "done"
        html = guest.get("/import").get_data(as_text=True)
        assert 'data-name="sdx1"' in html and 'value="import"' not in html
        response = guest.post("/api/imports/pending/sdx1", json={"approve": True})
        assert response.status_code == 401
    finally:
        waiting.stop.set()
        waiting.thread.join(timeout=5)
    assert waiting.result == [False]
