"""The real daemon (`edge_app.appliance.daemon`) as a subprocess for the browser tests:
a free loopback port, the EDGE_* environment, a log file, wait until it serves, terminate."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0


class Daemon(NamedTuple):
    """A started daemon: its base URL (``http://127.0.0.1:PORT``) and process."""

    url: str
    proc: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_serving(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    """Poll the login page until the daemon answers (or died: then show its log)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"daemon exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
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
    port = free_port()
    env = {
        **os.environ,
        "EDGE_DATA_DIR": str(data_dir),
        "EDGE_BUNDLE_DIR": str(bundle),
        "EDGE_HOST": "127.0.0.1",
        "EDGE_PORT": str(port),
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
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, base, log_path)
        yield Daemon(base, proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
