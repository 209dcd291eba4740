"""Fixtures for the web UI: real Settings in a temp data dir, the real Flask app.

`web_app` has no AppContext (auth, CSRF and headers need none); `test_api.py` and
`test_import_page.py` define an `app` over a real context, and `client` logs into it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edge_app.settings import Settings
from webui.app import create_app
from webui.state import web_state

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
