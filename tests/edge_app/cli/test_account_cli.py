"""`edge-app passwd [--guest]` and `reset-password` on a real library: which sessions end."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from edge_app.cli.main import EXIT_CONFIG, EXIT_OK, main
from edge_app.library.store import Library
from webui.passwords import PasswordStore


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """A data dir with an admin password and one admin + one guest session."""
    data = tmp_path / "data"
    PasswordStore(data).set_password("the admin's password")
    with Library(data / "library.db") as library:
        library.create_session("admin-token", "admin", "Firefox", "10.0.0.2")
        library.create_session("guest-token", "guest", "Safari", "10.0.0.3")
    return data


def _roles(data: Path) -> list[str]:
    with Library(data / "library.db") as library:
        return sorted(s.role for s in library.list_sessions())


def _passwd(data: Path, monkeypatch: pytest.MonkeyPatch, password: str, *extra: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["--data-dir", str(data), "passwd", "--stdin", *extra])


def test_guest_passwd_ends_only_guest_sessions(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _passwd(data, monkeypatch, "for the pupils", "--guest") == EXIT_OK
    assert "guest password changed; 1 web session(s) signed out" in capsys.readouterr().out
    assert PasswordStore(data, "guest").verify("for the pupils")
    assert PasswordStore(data).verify("the admin's password")  # the admin's is untouched
    assert _roles(data) == ["admin"]


def test_admin_passwd_ends_every_session(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _passwd(data, monkeypatch, "a brand new one") == EXIT_OK
    assert PasswordStore(data).verify("a brand new one")
    assert _roles(data) == []


def test_a_short_password_changes_nothing(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _passwd(data, monkeypatch, "short") == EXIT_CONFIG
    assert "at least 8 characters" in capsys.readouterr().err
    assert PasswordStore(data).verify("the admin's password")
    assert _roles(data) == ["admin", "guest"]


def test_reset_password_issues_a_token_and_ends_everything(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(data), "reset-password"]) == EXIT_OK
    out = capsys.readouterr().out
    token = (data / "setup_token").read_text().strip()
    assert f"setup token: {token}" in out and "2 web session(s) signed out" in out
    store = PasswordStore(data)
    assert not store.is_set() and store.check_setup_token(token)
    assert _roles(data) == []
