"""The real daemon (`edge_app.appliance.daemon`) as a subprocess for the browser tests:
a free loopback port, the EDGE_* environment, a log file, wait until it serves, terminate.

The daemon serves HTTPS with the certificate it makes on first start; `Daemon.url` is the
``https://`` base, `Daemon.ca_file` the box's CA to verify against (`ssl_context`), and
`browser_tls_args(data_dir)` the Chromium flag that pins the box's key (the browser check
of the fingerprint an owner compares on the first visit), `playwright_trusting(data_dir)`
Playwright with its API requests verified against the CA. A `Daemon` still unpacks as
``(url, proc)``.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge_app.appliance.tls import TlsFiles, spki_sha256_b64

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Daemon:
    """A started daemon: its HTTPS base URL, process, CA file and plain-HTTP redirect URL."""

    url: str
    proc: subprocess.Popen[bytes]
    ca_file: Path
    http_url: str

    def __iter__(self) -> Iterator[Any]:
        """``base, proc = daemon`` keeps working for the tests written before HTTPS."""
        return iter((self.url, self.proc))


def ssl_context(data_dir: Path) -> ssl.SSLContext:
    """A client context that trusts only the box's own CA (hostname checked)."""
    return ssl.create_default_context(cafile=str(TlsFiles(data_dir / "tls").ca))


@contextmanager
def playwright_trusting(data_dir: Path) -> Iterator[Any]:
    """`sync_playwright()` whose API requests (``page.request``, made by Playwright's Node
    driver, not by Chromium) verify the box against its CA: NODE_EXTRA_CA_CERTS is read
    when the driver starts."""
    from playwright.sync_api import sync_playwright

    before = os.environ.get("NODE_EXTRA_CA_CERTS")
    os.environ["NODE_EXTRA_CA_CERTS"] = str(TlsFiles(data_dir / "tls").ca)
    try:
        with sync_playwright() as pw:
            yield pw
    finally:
        if before is None:
            os.environ.pop("NODE_EXTRA_CA_CERTS", None)
        else:
            os.environ["NODE_EXTRA_CA_CERTS"] = before


def browser_tls_args(data_dir: Path) -> list[str]:
    """Chromium accepts the box's certificate by its key's hash, nothing else."""
    pin = spki_sha256_b64(TlsFiles(data_dir / "tls").cert)
    return [f"--ignore-certificate-errors-spki-list={pin}"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_serving(proc: subprocess.Popen[bytes], base: str, log: Path, data: Path) -> None:
    """Poll the login page over verified HTTPS until the daemon answers (or died: then
    show its log)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"daemon exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            context = ssl_context(data)
            with urllib.request.urlopen(f"{base}/login", timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, FileNotFoundError):
            time.sleep(0.3)
    pytest.fail(f"daemon did not start in {START_TIMEOUT_S} s:\n{log.read_text()[-4000:]}")


@contextmanager
def running_daemon(
    data_dir: Path,
    bundle: Path,
    log_path: Path,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Daemon]:
    """The daemon over `data_dir` with `bundle` on a free loopback port, stdout and stderr
    in `log_path`; yields once it serves /login and terminates it on exit."""
    port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "EDGE_DATA_DIR": str(data_dir),
        "EDGE_BUNDLE_DIR": str(bundle),
        "EDGE_HOST": "127.0.0.1",
        "EDGE_PORT": str(port),
        "EDGE_HTTP_REDIRECT_PORT": str(http_port),
        "EDGE_BACKEND": "onnxruntime",
        "EDGE_DECODE_WORKERS": "1",
        **(extra_env or {}),
    }
    env.pop("NOTIFY_SOCKET", None)
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge_app.appliance.daemon"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=out,
        )
    base = f"https://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, base, log_path, data_dir)
        yield Daemon(base, proc, TlsFiles(data_dir / "tls").ca, f"http://127.0.0.1:{http_port}")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
