"""HTTPS and revocable sessions against the daemon's real server (cheroot, real TLS).

The certificate is the one the box makes on first start; every client here verifies it
against the box's CA file (``ssl`` with ``cafile``), never with verification turned off.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests
from flask import Flask

from edge_app.appliance.tls import TlsFiles, fingerprint
from edge_app.settings import Settings
from tests.webui.conftest import PASSWORD
from tests.webui.live_server import LiveServer, live_server

NEW_PASSWORD = "a different passphrase"


@pytest.fixture()
def server(web_app: Flask, settings: Settings) -> Iterator[LiveServer]:
    with live_server(web_app, settings, redirect=True) as srv:
        yield srv


def _login(srv: LiveServer, password: str = PASSWORD) -> requests.Session:
    session = srv.session()
    reply = session.post(f"{srv.base_url}/api/login", json={"password": password}, timeout=30)
    assert reply.status_code == 200, reply.text
    session.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
    return session


def _cookie(session: requests.Session) -> str:
    value = session.cookies.get("edge_session")
    assert value
    return str(value)


def _role_with(srv: LiveServer, cookie: str) -> object:
    """What the server makes of a bare session cookie (a fresh client, nothing else)."""
    fresh = srv.session()
    fresh.cookies.set("edge_session", cookie)
    return fresh.get(f"{srv.base_url}/api/session", timeout=30).json()["role"]


def _private_status(srv: LiveServer, cookie: str) -> int:
    fresh = srv.session()
    fresh.cookies.set("edge_session", cookie)
    return fresh.get(f"{srv.base_url}/api/search", params={"q": "x"}, timeout=30).status_code


def _handshake(srv: LiveServer, context: ssl.SSLContext, name: str) -> bytes:
    port = int(srv.base_url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return der


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", socket.gethostname()])
def test_the_handshake_verifies_against_the_box_ca(
    server: LiveServer, settings: Settings, name: str
) -> None:
    assert server.ca_file is not None
    context = ssl.create_default_context(cafile=str(server.ca_file))  # verify + hostname
    der = _handshake(server, context, name)
    cert = ssl.DER_cert_to_PEM_cert(der)
    assert TlsFiles.of(settings).cert.read_text().startswith(cert.strip()[:200])
    shown = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert shown == fingerprint(TlsFiles.of(settings).cert)  # what banner and status print


def test_a_client_that_does_not_trust_the_ca_refuses(server: LiveServer) -> None:
    """Proof that the check above is a real check: the system CAs do not know the box."""
    context = ssl.create_default_context(cafile="/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(server, context, "127.0.0.1")
    strict = ssl.create_default_context(cafile=str(server.ca_file))
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch|match"):
        _handshake(server, strict, "not-this-box.example")


def test_http_redirects_to_https(server: LiveServer) -> None:
    assert server.redirect_url is not None
    plain = requests.Session()
    plain.trust_env = False
    reply = plain.get(f"{server.redirect_url}/login?next=/library", allow_redirects=False)
    assert reply.status_code == 308
    assert reply.headers["Location"] == f"{server.base_url}/login?next=/library"
    followed = server.session().get(f"{server.redirect_url}/login", timeout=30)
    assert followed.status_code == 200 and followed.url.startswith("https://")


def test_the_session_cookie_is_secure_and_httponly(server: LiveServer) -> None:
    reply = server.session().post(
        f"{server.base_url}/api/login", json={"password": PASSWORD}, timeout=30
    )
    header = reply.headers["Set-Cookie"]
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    assert reply.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_a_logged_out_cookie_is_refused(server: LiveServer) -> None:
    admin = _login(server)
    kept = _cookie(admin)
    assert _role_with(server, kept) == "admin"
    reply = admin.post(f"{server.base_url}/logout", allow_redirects=False, timeout=30)
    assert reply.status_code == 302
    assert _role_with(server, kept) is None
    assert _private_status(server, kept) == 401
    assert _cookie(_login(server)) != kept  # a new login never reuses a session token


def test_a_password_change_refuses_every_old_cookie(server: LiveServer) -> None:
    changer, other = _login(server), _login(server)
    old_changer, old_other = _cookie(changer), _cookie(other)
    form = {"old": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    token = changer.headers["X-CSRF-Token"]
    reply = changer.post(
        f"{server.base_url}/account/password",
        data={**form, "csrf_token": str(token)},
        allow_redirects=False,
        timeout=30,
    )
    assert reply.status_code == 302, reply.text
    for cookie in (old_changer, old_other):
        assert _role_with(server, cookie) is None
        assert _private_status(server, cookie) == 401
    assert _role_with(server, _cookie(changer)) == "admin"  # the changer got a new session
    with pytest.raises(AssertionError):
        _login(server)  # the old password is gone
    _login(server, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("old", "new", "confirm", "message"),
    [
        ("not the password", NEW_PASSWORD, NEW_PASSWORD, "current password is wrong"),
        (PASSWORD, "short", "short", "at least 8 characters"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "differ"),
    ],
)
def test_a_refused_password_change_changes_nothing(
    server: LiveServer, old: str, new: str, confirm: str, message: str
) -> None:
    admin, other = _login(server), _login(server)
    form = {"old": old, "new": new, "confirm": confirm}
    reply = admin.post(f"{server.base_url}/account/password", data=form, timeout=30)
    assert reply.status_code == 400 and message in reply.text
    assert _role_with(server, _cookie(other)) == "admin"
    _login(server)


def test_sign_out_everywhere_else(server: LiveServer) -> None:
    admin, phone, laptop = _login(server), _login(server), _login(server)
    reply = admin.post(f"{server.base_url}/sessions/end-others", allow_redirects=False)
    assert reply.status_code == 302
    assert _role_with(server, _cookie(phone)) is None
    assert _role_with(server, _cookie(laptop)) is None
    assert _role_with(server, _cookie(admin)) == "admin"


def test_plain_http_only_when_asked(web_app: Flask, settings: Settings) -> None:
    """tls = "off" (a developer's loopback) serves plain HTTP and drops the Secure flag."""
    plain = replace(settings, tls="off")
    from webui.app import create_app

    app = create_app(plain)
    with live_server(app, plain) as srv:
        assert srv.base_url.startswith("http://") and srv.ca_file is None
        reply = srv.session().post(f"{srv.base_url}/api/login", json={"password": PASSWORD})
        assert reply.status_code == 200
        assert "Secure" not in reply.headers["Set-Cookie"]
        assert "Strict-Transport-Security" not in reply.headers


def test_a_silent_client_does_not_stall_the_next_handshake(server: LiveServer) -> None:
    """Connect and say nothing: with cheroot's stock adapter the handshake waits in the
    accept loop and every new visitor waits 10 s; here it waits in one worker only."""
    port = int(server.base_url.rsplit(":", 1)[1])
    silent = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(1)]
    try:
        started = time.monotonic()
        reply = server.session().get(f"{server.base_url}/login", timeout=30)
        assert reply.status_code in (200, 302)
        assert time.monotonic() - started < 5.0  # cheroot's socket timeout is 10 s
    finally:
        for sock in silent:
            sock.close()


def test_the_setup_page_shows_the_served_fingerprint(settings: Settings) -> None:
    """First visit: the page names the certificate it came over, to compare with the box."""
    from webui.app import create_app

    with live_server(create_app(settings), settings) as srv:
        page = srv.session().get(f"{srv.base_url}/setup", timeout=30).text
        port = int(srv.base_url.rsplit(":", 1)[1])
        der = ssl.get_server_certificate(("127.0.0.1", port), ca_certs=str(srv.ca_file))
    shown = ":".join(f"{b:02X}" for b in hashlib.sha256(ssl.PEM_cert_to_DER_cert(der)).digest())
    assert f"<code>{shown}</code>" in page


def test_tls_older_than_1_2_is_refused(server: LiveServer) -> None:
    """A client that offers at most TLS 1.1 (and allows it on its side) gets no session."""
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(cafile=str(server.ca_file))
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        _handshake(server, old, "127.0.0.1")
    modern = ssl.create_default_context(cafile=str(server.ca_file))
    modern.minimum_version = ssl.TLSVersion.TLSv1_2
    _handshake(server, modern, "127.0.0.1")


def _form(session: requests.Session, srv: LiveServer, path: str, **form: str) -> requests.Response:
    token = str(session.headers["X-CSRF-Token"])
    return session.post(
        f"{srv.base_url}{path}", data={**form, "csrf_token": token}, allow_redirects=False
    )


GUEST_PASSWORD = "the class of 2026"


def test_a_guest_password_logs_guests_in_and_changing_it_ends_their_sessions(
    server: LiveServer,
) -> None:
    admin = _login(server)
    with pytest.raises(AssertionError):
        _login(server, GUEST_PASSWORD)  # no guest password yet (and no guest access)
    set_it = _form(admin, server, "/account/guest-password", new=GUEST_PASSWORD)
    assert set_it.status_code == 400  # the confirmation is missing: nothing set
    reply = _form(
        admin, server, "/account/guest-password", new=GUEST_PASSWORD, confirm=GUEST_PASSWORD
    )
    assert reply.status_code == 302
    guest = _login(server, GUEST_PASSWORD)
    assert _role_with(server, _cookie(guest)) == "guest"
    assert guest.post(f"{server.base_url}/api/reindex").status_code in (401, 403)
    assert _form(admin, server, "/account/guest-password", remove="1").status_code == 302
    assert _role_with(server, _cookie(guest)) is None  # every guest signed out
    assert _role_with(server, _cookie(admin)) == "admin"  # the admin is not
    with pytest.raises(AssertionError):
        _login(server, GUEST_PASSWORD)


def test_the_guest_password_cannot_be_the_admin_password(server: LiveServer) -> None:
    admin = _login(server)
    reply = _form(admin, server, "/account/guest-password", new=PASSWORD, confirm=PASSWORD)
    assert reply.status_code == 400 and "must differ" in reply.text


def test_a_busy_redirect_port_is_a_warning_not_a_failure(
    web_app: Flask, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from edge_app.appliance.web_server import create_server

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        server = create_server(web_app, settings, threads=2, port=0, redirect_port=busy)
        try:
            assert server.redirect is None and server.url().startswith("https://")
        finally:
            server.close()
    assert "event=http_redirect_unavailable" in caplog.text
