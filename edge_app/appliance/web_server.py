"""The daemon's web server: HTTPS by default, plus a plain-HTTP port that only redirects.

Why cheroot and not waitress: waitress has no TLS, and wrapping its non-blocking asyncore
sockets in `ssl` is unsound (a handshake or an SSL_WANT_READ inside its select loop, data
buffered inside the TLS layer that select never sees). gunicorn does TLS well but is a
pre-fork server: the daemon is deliberately one process whose web threads share the
loaded model and the job queue with the indexer. cheroot (CherryPy's maintained, pure
Python WSGI server) serves TLS through the standard `ssl` module with its thread pool,
keeps idle keep-alive connections off the workers and bounds request line, headers and
body. Its stock TLS adapter shakes hands in the accept loop (one silent client stalls
every new visitor for the socket timeout); `_DeferredHandshakeAdapter` moves the handshake
to the worker that serves the connection, so it costs one worker for at most that long
(thread-per-connection servers share that limit; see docs/SECURITY.md).

``tls = "off"`` or ``"proxy"`` (settings) serves plain HTTP on ``port``: for a reverse
proxy that terminates TLS, or a developer's loopback; never the default.
"""

from __future__ import annotations

import logging
import ssl
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cheroot import errors, wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from edge_app.settings import Settings

log = logging.getLogger("edge_app.appliance.web_server")

#: Request line + headers: a few KiB for URLs and cookies; beyond this the server answers
#: 414 (request line) or 413 (headers): a status, not a dropped connection.
MAX_REQUEST_HEADER_BYTES = 16 * 1024
_BODY_SLACK_BYTES = 64 * 1024  # multipart framing around an upload of max_upload_bytes
_TIMEOUT_S = 10  # idle connection and TLS handshake limit (cheroot's default)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Server(wsgi.Server):
    """cheroot's server with its error lines in our (JSON) log instead of bare stderr."""

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        dropped = sys.exc_info()[1]
        if isinstance(dropped, ssl.SSLError | ConnectionError | TimeoutError):
            # a client that gave up or distrusts the certificate: news, not a bug
            log.info("event=http_connection_dropped error=%r", dropped)
            return
        log.log(level, "event=http_server %s", msg, exc_info=traceback)


class _DeferredHandshakeAdapter(BuiltinSSLAdapter):
    """cheroot's standard-library TLS, with the handshake moved out of the accept loop.

    The stock adapter shakes hands inside the one thread that accepts connections, so a
    client that connects and stays silent holds every new visitor for the socket timeout.
    Here the socket is only wrapped; OpenSSL completes the handshake on the first read,
    in the worker thread that serves the connection.
    """

    def wrap(self, sock: Any) -> tuple[Any, dict[str, str]]:
        try:
            wrapped = self.context.wrap_socket(
                sock, do_handshake_on_connect=False, server_side=True
            )
        except OSError as exc:  # the peer is already gone: cheroot drops it quietly
            raise errors.FatalSSLAlert(*exc.args) from exc
        return wrapped, {"wsgi.url_scheme": "https", "HTTPS": "on"}


def _tls_adapter(settings: Settings) -> BuiltinSSLAdapter:
    """The certificate to serve (made on first start) in a TLS >= 1.2 context."""
    from edge_app.appliance.tls import ensure_certificate

    files = ensure_certificate(settings)
    adapter = _DeferredHandshakeAdapter(str(files.cert), str(files.key))
    adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
    return adapter


def _server(app: WsgiApp, host: str, port: int, threads: int) -> _Server:
    server = _Server((host, port), app, numthreads=threads, server_name="edge-search")
    server.timeout = _TIMEOUT_S
    server.max_request_header_size = MAX_REQUEST_HEADER_BYTES
    return server


def redirect_app(https_port: int) -> WsgiApp:
    """Plain HTTP -> the same path on HTTPS (308 keeps the method and body)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        path = environ.get("PATH_INFO", "/") or "/"
        query = environ.get("QUERY_STRING", "")
        target = f"https://{host}:{https_port}{path}" + (f"?{query}" if query else "")
        body = f"This box speaks HTTPS: {target}\n".encode()
        start_response(
            "308 Permanent Redirect",
            [
                ("Location", target),
                ("Content-Type", "text/plain"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]

    return app


@dataclass
class WebServer:
    """The app's server and, with TLS on, the redirecting plain-HTTP one; both bound."""

    main: _Server
    redirect: _Server | None
    scheme: str

    @property
    def effective_port(self) -> int:
        return int(self.main.bind_addr[1])

    @property
    def redirect_port(self) -> int | None:
        return None if self.redirect is None else int(self.redirect.bind_addr[1])

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.effective_port}"

    def run(self) -> None:
        """Serve until `close()` (or a signal's SystemExit in this thread)."""
        if self.redirect is not None:
            threading.Thread(target=self.redirect.serve, name="edge-http", daemon=True).start()
        self.main.serve()

    def close(self) -> None:
        for server in (self.redirect, self.main):
            if server is not None:
                server.stop()


def create_server(
    app: WsgiApp,
    settings: Settings,
    threads: int = 16,
    port: int | None = None,
    redirect_port: int | None = None,
) -> WebServer:
    """The server of `serve`, bound and ready to `run()` (tests: ``port=0``).

    16 threads: a thread waiting for the encoder costs little, and concurrent searches must
    reach the towers' batchers together to be coalesced (engines/batching.py).

    ``redirect_port`` defaults to ``settings.http_redirect_port`` (0: none) and is only
    used with TLS on.
    """
    tls = settings.tls == "auto"
    main = _server(app, settings.host, settings.port if port is None else port, threads)
    main.max_request_body_size = settings.max_upload_bytes + _BODY_SLACK_BYTES
    if tls:
        main.ssl_adapter = _tls_adapter(settings)
    main.prepare()
    plain = settings.http_redirect_port if redirect_port is None else redirect_port
    redirect = _redirect_server(settings.host, plain, int(main.bind_addr[1])) if tls else None
    return WebServer(main, redirect, "https" if tls else "http")


def _redirect_server(host: str, port: int, https_port: int) -> _Server | None:
    """The plain-HTTP listener; a convenience, so a busy port is a warning, not a failure."""
    if not port:
        return None
    server = _server(redirect_app(https_port), host, port, 2)
    try:
        server.prepare()
    except OSError as exc:
        log.warning("event=http_redirect_unavailable port=%d error=%r", port, exc)
        return None
    return server
