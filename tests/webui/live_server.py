"""The daemon's real web server (`edge_app.appliance.web_server.create_server`) in a
thread, for tests that need real sockets and real TLS but no daemon process.

`live_server(app, settings)` yields a `LiveServer`: ``base_url`` (``https://127.0.0.1:PORT``,
plain ``http://`` when ``settings.tls`` is not ``auto``), ``ca_file`` (the box's own CA,
the file a client verifies the certificate against) and ``session()`` for a
`requests.Session` that verifies against it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from edge_app.appliance.tls import TlsFiles
from edge_app.appliance.web_server import create_server
from edge_app.settings import Settings
from tests.webui.daemon_process import free_port


@dataclass(frozen=True)
class LiveServer:
    """A running server: where it listens and how to trust it."""

    base_url: str
    ca_file: Path | None  # None for plain HTTP
    redirect_url: str | None = None  # the plain-HTTP port that redirects, when asked for

    def session(self) -> requests.Session:
        """A requests session that verifies the server against the box's CA."""
        session = requests.Session()
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins
        session.verify = str(self.ca_file) if self.ca_file else True
        return session


@contextmanager
def live_server(
    app: Any, settings: Settings, threads: int = 2, redirect: bool = False
) -> Iterator[LiveServer]:
    """`app` served on a free loopback port (and a redirect port when `redirect`)."""
    server = create_server(
        app, settings, threads=threads, port=0, redirect_port=free_port() if redirect else 0
    )
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    tls = settings.tls == "auto"
    redirect_url = f"http://127.0.0.1:{server.redirect_port}" if server.redirect else None
    try:
        yield LiveServer(server.url(), TlsFiles.of(settings).ca if tls else None, redirect_url)
    finally:
        server.close()
        thread.join(timeout=30)
