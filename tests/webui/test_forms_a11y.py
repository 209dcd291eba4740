"""Forms keep what was typed after an error and point at the error (no browser needed)."""

from __future__ import annotations

from flask import Flask

from edge_app.settings import Settings
from tests.webui.conftest import PASSWORD, csrf_from
from webui.app import create_app
from webui.state import web_state


def test_setup_keeps_the_token_after_an_error(settings: Settings) -> None:
    app = create_app(settings)  # no password yet: /setup is open
    client = app.test_client()
    token = web_state(app).passwords.setup_token()
    assert token
    form = {
        "csrf_token": csrf_from(client, "/setup"),
        "token": token,
        "password": PASSWORD,
        "confirm": "other password",
    }
    response = client.post("/setup", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "The two passwords differ." in html
    assert f'value="{token}"' in html and 'aria-invalid="true"' in html
    assert PASSWORD not in html  # passwords are never echoed back


def test_login_error_is_announced_and_linked(web_app: Flask) -> None:
    client = web_app.test_client()
    response = client.post("/login", data={"csrf_token": csrf_from(client), "password": "wrong!"})
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert 'role="alert" id="form-error"' in html and 'aria-describedby="form-error"' in html


def test_skip_link_and_one_h1_without_a_browser(web_app: Flask) -> None:
    """The no-context pages; test_e2e_phone_a11y checks every page in Chromium."""
    html = web_app.test_client().get("/login").get_data(as_text=True)
    assert 'class="skip-link" href="#main"' in html and 'id="main"' in html
    assert html.count("<h1") == 1
