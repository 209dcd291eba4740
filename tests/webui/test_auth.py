"""Authentication, first-run setup, CSRF, rate limiting and security headers.

These run against the real app without an AppContext: every check here happens before
a request reaches the library.
"""

from __future__ import annotations

import stat

import pytest
from flask import Flask

from edge_app.settings import Settings
from tests.webui.conftest import PASSWORD, csrf_from, login
from webui.app import create_app
from webui.state import web_state

API_ROUTES = [
    ("GET", "/api/search?q=dog"),
    ("POST", "/api/search/image"),
    ("GET", "/api/photos/1"),
    ("GET", "/api/photos/1/thumb"),
    ("GET", "/api/photos/1/preview"),
    ("GET", "/api/photos/1/file"),
    ("GET", "/api/duplicates"),
    ("GET", "/api/status"),
    ("POST", "/api/embed/text"),
    ("POST", "/api/embed/image"),
    ("POST", "/api/reindex"),
]
PAGES = ["/", "/?q=dog", "/photos/1", "/duplicates", "/library", "/import"]


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_api_requires_login(web_app: Flask, method: str, path: str) -> None:
    response = web_app.test_client().open(path, method=method)
    assert response.status_code == 401
    assert response.get_json() == {"error": "login required"}


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_to_login(web_app: Flask, path: str) -> None:
    response = web_app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_first_run_requires_setup_token(settings: Settings) -> None:
    app = create_app(settings)
    client = app.test_client()
    assert client.get("/").headers["Location"] == "/setup"
    assert client.get("/api/status").status_code == 401
    token = web_state(app).passwords.setup_token()
    assert token
    csrf = csrf_from(client, "/setup")
    form = {"csrf_token": csrf, "password": PASSWORD, "confirm": PASSWORD}
    wrong = client.post("/setup", data={**form, "token": "guess"})
    assert wrong.status_code == 400
    assert "Wrong setup token" in wrong.get_data(as_text=True)
    ok = client.post("/setup", data={**form, "token": token})
    assert ok.status_code == 302
    assert client.get("/import").status_code == 200  # logged in by the setup itself
    assert not (settings.data_dir / "setup_token").exists()
    assert client.get("/setup").headers["Location"] == "/login"


def test_password_file_is_hashed_and_private(web_app: Flask, settings: Settings) -> None:
    path = settings.data_dir / "admin_password"
    text = path.read_text()
    assert PASSWORD not in text
    assert text.startswith("scrypt:")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.secret_key_file.stat().st_mode) == 0o600


def test_form_login_and_logout(web_app: Flask) -> None:
    client = web_app.test_client()
    csrf = csrf_from(client)
    bad = client.post("/login", data={"csrf_token": csrf, "password": "nope"})
    assert bad.status_code == 401
    ok = client.post("/login", data={"csrf_token": csrf, "password": PASSWORD, "next": "/import"})
    assert ok.headers["Location"] == "/import"
    assert client.get("/import").status_code == 200
    csrf = csrf_from(client, "/import")
    client.post("/logout", data={"csrf_token": csrf})
    assert client.get("/import").status_code == 302


def test_login_next_cannot_leave_the_site(web_app: Flask) -> None:
    client = web_app.test_client()
    csrf = csrf_from(client)
    response = client.post(
        "/login", data={"csrf_token": csrf, "password": PASSWORD, "next": "//evil.example/"}
    )
    assert response.headers["Location"] == "/"


def test_login_without_csrf_is_rejected(web_app: Flask) -> None:
    response = web_app.test_client().post("/login", data={"password": PASSWORD})
    assert response.status_code == 403


def test_api_login_wants_json(web_app: Flask) -> None:
    client = web_app.test_client()
    assert client.post("/api/login", data={"password": PASSWORD}).status_code == 415
    assert client.post("/api/login", json={"pw": PASSWORD}).status_code == 400
    assert client.post("/api/login", json={"password": "wrong"}).status_code == 401


def test_login_rate_limited_per_client(web_app: Flask) -> None:
    client = web_app.test_client()
    for _ in range(5):
        assert client.post("/api/login", json={"password": "wrong"}).status_code == 401
    blocked = client.post("/api/login", json={"password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    other = web_app.test_client()
    response = other.post(
        "/api/login", json={"password": PASSWORD}, environ_base={"REMOTE_ADDR": "127.0.0.2"}
    )
    assert response.status_code == 200


def test_state_changing_api_needs_csrf(web_app: Flask) -> None:
    client = web_app.test_client()
    token = login(client)
    missing = client.post("/api/reindex")
    assert missing.status_code == 403
    assert "CSRF" in missing.get_json()["error"]
    wrong = client.post("/api/reindex", headers={"X-CSRF-Token": token + "x"})
    assert wrong.status_code == 403
    # With the token the request gets through to the view (no job queue outside serve).
    ok = client.post("/api/reindex", headers={"X-CSRF-Token": token})
    assert ok.status_code == 503
    assert "edge-app serve" in ok.get_json()["error"]


def test_csrf_token_is_per_session(web_app: Flask) -> None:
    first, second = web_app.test_client(), web_app.test_client()
    token = login(first)
    login(second)
    response = second.post("/api/reindex", headers={"X-CSRF-Token": token})
    assert response.status_code == 403


def test_session_cookie_flags(web_app: Flask) -> None:
    response = web_app.test_client().post("/api/login", json={"password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie  # HTTPS is the default (tls = "auto"); test_https: "off"


def test_security_headers_everywhere(web_app: Flask) -> None:
    client = web_app.test_client()
    for path in ("/login", "/api/status", "/static/app.css", "/nope"):
        headers = client.get(path).headers
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"


def test_unknown_api_route_is_json_404(web_app: Flask) -> None:
    client = web_app.test_client()
    login(client)
    response = client.get("/api/photos/not-a-number")
    assert response.status_code == 404
    assert "error" in response.get_json()


def test_guest_access_reads_but_cannot_reindex(settings: Settings) -> None:
    app = create_app(Settings(data_dir=settings.data_dir, guest_access=True))
    web_state(app).passwords.set_password(PASSWORD)
    client = app.test_client()
    assert client.get("/import").status_code == 200
    session = client.get("/api/session").get_json()
    assert session["role"] == "guest"
    response = client.post("/api/reindex", headers={"X-CSRF-Token": session["csrf_token"]})
    assert response.status_code == 401
    assert "Log out" not in client.get("/import").get_data(as_text=True)


def test_pages_use_no_inline_script_or_external_assets(web_app: Flask) -> None:
    client = web_app.test_client()
    login(client)
    html = client.get("/import").get_data(as_text=True)
    assert "<script>" not in html and "style=" not in html
    assert "http://" not in html and "https://" not in html
