"""`edge-app reset-password` and `edge-app passwd` from a shell while the real daemon runs
(subprocess, HTTPS verified against the box's CA): every cookie stops working at once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.webui.conftest import PASSWORD
from tests.webui.daemon_process import REPO, Daemon, running_daemon

NEW_PASSWORD = "after the reset 42"


@pytest.fixture()
def daemon(tmp_path: Path, tiny_bundle: Path) -> Iterator[tuple[Daemon, Path]]:
    data = tmp_path / "data"
    (data / "library").mkdir(parents=True)
    with running_daemon(data, tiny_bundle, tmp_path / "daemon.log") as served:
        yield served, data


def _client(daemon: Daemon) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(daemon.ca_file)
    return session


def _setup(daemon: Daemon, token: str, password: str) -> requests.Session:
    """The first-run form, as a browser sends it; returns the logged-in session."""
    session = _client(daemon)
    csrf = session.get(f"{daemon.url}/api/session", timeout=30).json()["csrf_token"]
    form = {"token": token, "password": password, "confirm": password, "csrf_token": csrf}
    reply = session.post(f"{daemon.url}/setup", data=form, allow_redirects=False, timeout=30)
    assert reply.status_code == 302, reply.text
    assert _role(daemon, session) == "admin"
    return session


def _role(daemon: Daemon, session: requests.Session) -> object:
    return session.get(f"{daemon.url}/api/session", timeout=30).json()["role"]


def _cli(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGE_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "edge_app", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_reset_password_with_the_daemon_running(daemon: tuple[Daemon, Path]) -> None:
    served, data = daemon
    first_token = (data / "setup_token").read_text().strip()
    admin = _setup(served, first_token, PASSWORD)
    script = _client(served)
    assert script.post(f"{served.url}/api/login", json={"password": PASSWORD}).status_code == 200

    done = _cli(data, "reset-password")
    assert done.returncode == 0, done.stderr
    match = re.search(r"setup token: (\S+)", done.stdout)
    assert match and match.group(1) != first_token
    assert "2 web session(s) signed out" in done.stdout

    for session in (admin, script):  # both cookies are dead at once
        assert _role(served, session) is None
        reply = session.get(f"{served.url}/api/search", params={"q": "x"}, timeout=30)
        assert reply.status_code == 401
    login = _client(served).post(f"{served.url}/api/login", json={"password": PASSWORD})
    assert login.status_code == 401  # the old password is gone too
    page = _client(served).get(f"{served.url}/login", allow_redirects=False, timeout=30)
    assert page.headers["Location"].endswith("/setup")
    _setup(served, match.group(1), NEW_PASSWORD)


def test_passwd_with_the_daemon_running(daemon: tuple[Daemon, Path]) -> None:
    served, data = daemon
    admin = _setup(served, (data / "setup_token").read_text().strip(), PASSWORD)
    short = _cli(data, "passwd", "--stdin", stdin="short\n")
    assert short.returncode == 78 and "at least 8 characters" in short.stderr
    assert _role(served, admin) == "admin"  # a refused change changes nothing

    done = _cli(data, "passwd", "--stdin", stdin=f"{NEW_PASSWORD}\n")
    assert done.returncode == 0, done.stderr
    assert _role(served, admin) is None
    new = _client(served).post(f"{served.url}/api/login", json={"password": NEW_PASSWORD})
    assert new.status_code == 200
