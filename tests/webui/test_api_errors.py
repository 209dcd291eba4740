"""Regression tests for the API's rough edges (issue 16): every bad input is a 4xx with the
JSON error shape, never a 500 or a dropped connection. The real app over a real library;
the request-size cases go through the real HTTPS server of `edge-app serve`."""

from __future__ import annotations

import io
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from edge_app.appliance.web_server import MAX_REQUEST_HEADER_BYTES
from tests.webui.conftest import PASSWORD, indexed_context, login, real_settings
from tests.webui.live_server import LiveServer, live_server
from webui.app import create_app
from webui.state import web_state


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path) -> Iterator[Any]:
    from build_engines.shapes import write_folder

    settings = real_settings(tmp_path_factory.mktemp("errors") / "data", tiny_bundle)
    write_folder(settings.library_dir, n=4, seed=3, size=(64, 64), fmt="jpg")
    with indexed_context(settings) as ctx:
        yield ctx


@pytest.fixture()
def app(context: Any) -> Flask:
    app = create_app(context.settings, context)
    if not web_state(app).passwords.is_set():
        web_state(app).passwords.set_password(PASSWORD)
    return app


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), "red").save(buf, "JPEG")
    return buf.getvalue()


def _assert_json_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    message: str = body["error"]
    return message


@pytest.mark.parametrize("keep", [50, 200, 600])
def test_truncated_jpeg_upload_is_a_400(client: FlaskClient, keep: int) -> None:
    data = {"image": (io.BytesIO(_jpeg()[:keep]), "cut.jpg")}
    response = client.post("/api/search/image", data=data, content_type="multipart/form-data")
    assert "not a readable image" in _assert_json_error(response, 400)


def test_a_photo_id_beyond_sqlite_integers_in_a_query_is_a_400(client: FlaskClient) -> None:
    response = client.get("/api/search?q=photo:99999999999999999999")
    assert "photo number" in _assert_json_error(response, 400)


def test_non_ascii_digits_in_a_photo_term_are_a_400(client: FlaskClient) -> None:
    response = client.get("/api/search", query_string={"q": "photo:²"})
    _assert_json_error(response, 400)


@pytest.mark.parametrize(
    "path", ["/api/photos/99999999999999999999", "/api/imports/99999999999999999999"]
)
def test_ids_beyond_sqlite_integers_in_urls_are_a_404(client: FlaskClient, path: str) -> None:
    _assert_json_error(client.get(path), 404)


def test_the_largest_sqlite_id_is_still_looked_up(client: FlaskClient) -> None:
    message = _assert_json_error(client.get(f"/api/photos/{2**63 - 1}"), 404)
    assert "URL was not found" not in message  # it reached the library, which said "no"


def test_405_keeps_its_allow_header(client: FlaskClient) -> None:
    response = client.delete("/api/search/image")
    _assert_json_error(response, 405)
    assert "POST" in response.headers["Allow"].split(", ")


def test_unknown_post_route_is_a_404_not_a_csrf_403(app: Flask) -> None:
    client = app.test_client()
    login(client)
    _assert_json_error(client.post("/api/no-such-route"), 404)


def test_an_overlong_query_is_a_400(client: FlaskClient) -> None:
    response = client.get("/api/search", query_string={"q": "a" * 1001})
    assert "limit is 1000" in _assert_json_error(response, 400)


@pytest.fixture()
def server(app: Flask, context: Any) -> Iterator[LiveServer]:
    """The real HTTPS server of `edge-app serve` in a thread, on loopback."""
    with live_server(app, context.settings) as srv:
        yield srv


def _admin(server: LiveServer) -> requests.Session:
    session = server.session()
    reply = session.post(f"{server.base_url}/api/login", json={"password": PASSWORD}, timeout=30)
    assert reply.status_code == 200, reply.text
    return session


def test_an_8000_character_search_url_gets_a_status(server: LiveServer) -> None:
    url = f"{server.base_url}/api/search"
    response = _admin(server).get(url, params={"q": "x" * 8000}, timeout=30)
    assert response.status_code == 400
    assert "limit is 1000" in response.json()["error"]


def test_a_request_line_over_the_header_limit_gets_a_status(server: LiveServer) -> None:
    """Beyond the server's explicit header limit: a status line (414 URI Too Long, RFC 9110
    15.5.15), not a closed connection; over TLS, verified against the box's CA."""
    host, port = server.base_url.removeprefix("https://").split(":")
    target = "/api/search?q=" + "x" * (MAX_REQUEST_HEADER_BYTES + 10)
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with (
        socket.create_connection((host, int(port)), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname=host) as sock,
    ):
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        reply = sock.recv(4096).decode(errors="replace")
    assert reply.split(" ", 2)[1] == "414", reply[:200]


def test_a_normal_long_query_still_works(server: LiveServer) -> None:
    url = f"{server.base_url}/api/search"
    response = _admin(server).get(url, params={"q": "x " * 400}, timeout=30)
    assert response.status_code == 200, response.text


def test_the_search_page_refuses_an_overlong_query_too(client: FlaskClient) -> None:
    response = client.get("/", query_string={"q": "a" * 1001})
    assert response.status_code == 400
    assert "limit is 1000" in response.get_data(as_text=True)


@pytest.mark.parametrize("like", ["99999999999999999999", "²", "-1"])
def test_the_home_page_refuses_a_bad_like_id(client: FlaskClient, like: str) -> None:
    response = client.get("/", query_string={"like": like})
    assert response.status_code == 400
    assert "like must be a photo id" in response.get_data(as_text=True)
