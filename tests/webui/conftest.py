"""Fixtures for the web UI: real Settings in a temp data dir, the real Flask app.

`web_app` has no AppContext (auth, CSRF and headers need none); `test_api.py` and
`test_import_page.py` define an `app` over a real context (`indexed_context` and
`admin_app` build one), and `client` logs into it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge_app.settings import Settings
from webui.app import create_app
from webui.state import web_state

if TYPE_CHECKING:
    from edge_app.context import AppContext

PASSWORD = "correct horse battery"
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    """Settings rooted in a fresh data dir, on loopback."""
    return Settings(data_dir=tmp_path / "data", host="127.0.0.1", port=8080)


@pytest.fixture()
def web_app(settings: Settings) -> Iterator[Flask]:
    """The app without a context, admin password already set."""
    app = create_app(settings)
    app.config["TESTING"] = True
    web_state(app).passwords.set_password(PASSWORD)
    yield app


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    """Logged in as admin, CSRF header on every request; the module defines `app`."""
    client = app.test_client()
    client.environ_base["HTTP_X_CSRF_TOKEN"] = login(client)
    return client


def csrf_from(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token as a browser sees it: from the page's meta tag."""
    html = client.get(path).get_data(as_text=True)
    match = _CSRF_META.search(html)
    assert match, f"no csrf meta tag on {path}"
    return match.group(1)


def login(client: FlaskClient, password: str = PASSWORD) -> str:
    """Log in through the JSON API; returns the CSRF token for later requests."""
    response = client.post("/api/login", json={"password": password})
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["csrf_token"]
    return token


def real_settings(root: Path, bundle: Path, **extra: Any) -> Settings:
    """Settings over a real bundle: ONNX Runtime, loopback, batches of 8, one decoder."""
    return Settings(
        data_dir=root,
        bundle_dir=bundle,
        backend_prefer="onnxruntime",
        host="127.0.0.1",
        batch_size=8,
        decode_workers=1,
        **extra,
    )


def copy_photos(shapes: list[tuple[Path, Any]], library: Path) -> None:
    """Copy the generated photos (path, spec) into `library`."""
    library.mkdir(parents=True, exist_ok=True)
    for path, _spec in shapes:
        shutil.copy2(path, library / path.name)


@contextmanager
def indexed_context(settings: Settings) -> Iterator[AppContext]:
    """A real AppContext over `settings` with its library indexed; closed on exit."""
    from edge_app.context import AppContext

    ctx = AppContext.open(settings)
    try:
        ctx.index_library()
        yield ctx
    finally:
        ctx.close()


@contextmanager
def indexed_photos(
    root: Path, bundle: Path, shapes: list[tuple[Path, Any]]
) -> Iterator[tuple[Settings, AppContext]]:
    """`shapes` copied into a library under `root` and indexed with `bundle`;
    yields (settings, context)."""
    settings = real_settings(root, bundle)
    copy_photos(shapes, settings.library_dir)
    with indexed_context(settings) as ctx:
        yield settings, ctx


def admin_app(settings: Settings, ctx: Any) -> Flask:
    """The app over a real context, admin password set (once: module fixtures share it)."""
    app = create_app(settings, ctx)
    if not web_state(app).passwords.is_set():
        web_state(app).passwords.set_password(PASSWORD)
    return app
