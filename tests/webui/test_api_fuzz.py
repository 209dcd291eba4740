"""Property-based fuzzing of the JSON API with Schemathesis, generated from the OpenAPI
description, against the real server of the daemon (`create_server`: cheroot, HTTPS with
the box's own certificate, verified against its CA) on loopback over a real library indexed
by the tiny bundle.

As admin (session cookie + CSRF header), guest (guest access on) and anonymous: no 5xx for
any generated input, every response conforms to the description, and auth holds (no 2xx on
an admin route as guest/anonymous, no 2xx on a private route anonymously).

Bounded for CI by ``EDGE_FUZZ_EXAMPLES`` (default 15 per operation and role, a couple of
minutes on a loaded 2-core machine). Release check, see docs/API.md:
``EDGE_FUZZ_EXAMPLES=500 python -m pytest tests/webui/test_api_fuzz.py``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from edge_app.appliance.daemon import JobQueue
from tests.webui.conftest import PASSWORD, indexed_context, real_settings
from tests.webui.live_server import LiveServer, live_server
from webui.api_spec import openapi_spec
from webui.app import create_app
from webui.state import attach_jobs, web_state

EXAMPLES = int(os.environ.get("EDGE_FUZZ_EXAMPLES", "15"))
SPEC = openapi_spec()


def _without_security(spec: dict[str, Any]) -> dict[str, Any]:
    """The description minus its security: each role's `requests.Session` carries the real
    cookie and CSRF header, and the role tests below check auth themselves. Left in,
    Schemathesis would send made-up cookies next to the real one and misread the result."""
    fuzz = openapi_spec()
    fuzz.pop("security", None)
    fuzz["components"].pop("securitySchemes", None)
    for item in fuzz["paths"].values():
        for op in item.values():
            if isinstance(op, dict):
                op.pop("security", None)
    return fuzz


schema = schemathesis.openapi.from_dict(_without_security(SPEC))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class Server:
    """One running HTTPS server and a requests session (trusting its CA) in the role under test."""

    base_url: str
    session: requests.Session


def _public(method: str, path: str) -> bool:
    return not SPEC["paths"][path][method.lower()].get("security", SPEC["security"])


def _admin_only(method: str, path: str) -> bool:
    return bool(SPEC["paths"][path][method.lower()].get("x-admin-only"))


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path) -> Iterator[Any]:
    """A small indexed library (6 photos) shared by the servers of this module."""
    from build_engines.shapes import write_folder

    settings_ = real_settings(tmp_path_factory.mktemp("fuzz") / "data", tiny_bundle)
    write_folder(settings_.library_dir, n=6, seed=7, size=(64, 64), fmt="jpg")
    with indexed_context(settings_) as ctx:
        yield ctx


def _serve(ctx: Any, guest_access: bool) -> Iterator[LiveServer]:
    """The real app on the daemon's real HTTPS server in a thread; yields it."""
    app = create_app(replace(ctx.settings, guest_access=guest_access), ctx)
    if not web_state(app).passwords.is_set():
        web_state(app).passwords.set_password(PASSWORD)
    stop = threading.Event()
    jobs = JobQueue({"reindex": lambda s, p: ctx.index_library(stop_event=s)}, stop)
    attach_jobs(app, jobs)
    worker = threading.Thread(target=jobs.run_worker, daemon=True)
    worker.start()
    with live_server(app, ctx.settings) as server:
        yield server
    jobs.close()
    stop.set()
    worker.join(timeout=60)


@pytest.fixture(scope="module")
def private_server(context: Any) -> Iterator[LiveServer]:
    yield from _serve(context, guest_access=False)


@pytest.fixture(scope="module")
def guest_server(context: Any) -> Iterator[LiveServer]:
    yield from _serve(context, guest_access=True)


@pytest.fixture(scope="module")
def admin(private_server: LiveServer) -> Server:
    """Logged in before any fuzzing, so the login rate limit cannot lock the admin out."""
    session, base = private_server.session(), private_server.base_url
    reply = session.post(f"{base}/api/login", json={"password": PASSWORD}, timeout=30)
    assert reply.status_code == 200, reply.text
    session.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
    return Server(base, session)


@pytest.fixture(scope="module")
def guest(guest_server: LiveServer) -> Server:
    """Guest access on: no login; the CSRF token of the guest's own session for POSTs."""
    session, base = guest_server.session(), guest_server.base_url
    token = session.get(f"{base}/api/session", timeout=30).json()["csrf_token"]
    session.headers["X-CSRF-Token"] = token
    return Server(base, session)


@pytest.fixture(scope="module")
def anonymous(admin: Server, private_server: LiveServer) -> Server:
    return Server(admin.base_url, private_server.session())


#: "Schema-valid data must get a 2xx" cannot hold here: JSON Schema cannot say "these
#: bytes decode as an image" or "this text parses in the query grammar"; those are 400s.
EXCLUDED = [positive_data_acceptance]


def _call(case: Any, server: Server) -> requests.Response:
    """Send the case and run Schemathesis' checks (no 5xx, status, content type, schema,
    invalid data rejected, Allow on 405...)."""
    response = case.call_and_validate(
        base_url=server.base_url,
        session=server.session,
        excluded_checks=EXCLUDED,
        verify=server.session.verify,  # the box's CA (Schemathesis would pass True)
    )
    assert response.status_code < 500, response.text
    return response


@schema.parametrize()
@FUZZ
def test_fuzz_as_admin(case: Any, admin: Server) -> None:
    _call(case, admin)


@schema.parametrize()
@FUZZ
def test_fuzz_as_guest(case: Any, guest: Server) -> None:
    response = _call(case, guest)
    if _admin_only(case.operation.method, case.operation.path):
        assert not 200 <= response.status_code < 300, response.text


@schema.parametrize()
@FUZZ
def test_fuzz_anonymously(case: Any, anonymous: Server) -> None:
    response = _call(case, anonymous)
    if not _public(case.operation.method, case.operation.path):
        assert not 200 <= response.status_code < 300, response.text
        assert response.status_code in (401, 403, 404, 405, 413, 415), response.text
