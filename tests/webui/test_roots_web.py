"""The Library page's photo-folder section and /api/roots, against a real context."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from edge_app.appliance.daemon import JobQueue
from edge_app.context import AppContext
from edge_app.settings import Settings
from edge_app.watch.service import WatchService
from tests.edge_app.watch.harness import write_jpeg
from tests.webui.conftest import PASSWORD, login
from webui.app import create_app
from webui.state import attach_jobs, web_state


@pytest.fixture()
def served(tmp_path: Path, tiny_bundle: Path) -> Iterator[tuple[Flask, AppContext, JobQueue]]:
    nas = tmp_path / "nas"
    write_jpeg(nas / "a.jpg", seed=1)
    settings = Settings(
        data_dir=tmp_path / "data", bundle_dir=tiny_bundle, backend_prefer="onnxruntime",
        library_roots=(nas,), host="127.0.0.1",
    )  # fmt: skip
    ctx = AppContext.open(settings)
    ctx.index_library()
    watch = WatchService(ctx)
    jobs = JobQueue(watch.handlers(), threading.Event())
    app = create_app(settings, ctx)
    attach_jobs(app, jobs)
    app.extensions["edge_watch"] = watch
    web_state(app).passwords.set_password(PASSWORD)
    worker = threading.Thread(target=jobs.run_worker, daemon=True)
    worker.start()
    watch.start(jobs.submit)
    yield app, ctx, jobs
    watch.close()
    jobs.close()
    worker.join(timeout=30)
    ctx.close()


def _wait_idle(jobs: JobQueue) -> None:
    for _ in range(300):
        snap = jobs.snapshot()
        if snap["current"] is None and not snap["queued"]:
            return
        time.sleep(0.1)
    raise AssertionError("jobs did not finish")


def test_library_page_and_api_show_roots(served: Any, tmp_path: Path) -> None:
    app, _, _ = served
    client = app.test_client()
    login(client)
    html = client.get("/library").get_data(as_text=True)
    assert 'id="roots-panel"' in html and str(tmp_path / "nas") in html
    assert "watching" in html and "inotify" in html
    rows = client.get("/api/roots").get_json()["roots"]
    nas = next(r for r in rows if r["path"] == str(tmp_path / "nas"))
    assert nas["online"] and nas["photos"] == 1 and nas["watch"] == "watching"


def test_api_roots_needs_login(served: Any) -> None:
    app, _, _ = served
    assert app.test_client().get("/api/roots").status_code == 401


def test_add_and_remove_root_through_the_form(served: Any, tmp_path: Path) -> None:
    app, ctx, jobs = served
    client = app.test_client()
    token = login(client)
    card = tmp_path / "card"
    write_jpeg(card / "b.jpg", seed=2)
    assert client.post("/library/roots/add", data={"path": str(card)}).status_code == 403  # CSRF
    bad = client.post("/library/roots/add", data={"path": str(tmp_path / "x"), "csrf_token": token})
    assert bad.status_code == 400 and "does not exist" in bad.get_data(as_text=True)
    overlap = client.post(
        "/library/roots/add", data={"path": str(tmp_path / "nas"), "csrf_token": token}
    )
    assert overlap.status_code == 400 and "overlaps the root" in overlap.get_data(as_text=True)
    ok = client.post("/library/roots/add", data={"path": str(card), "csrf_token": token})
    assert ok.status_code == 302
    _wait_idle(jobs)
    added = next(r for r in ctx.library.list_roots() if r.path == card.resolve())
    for _ in range(100):  # b.jpg was just written: indexed once it settled
        if ctx.library.get_root(added.id).photos:
            break
        time.sleep(0.1)
    assert ctx.library.get_root(added.id).photos == 1 and added.source == "user"
    gone = client.post("/library/roots/remove", data={"root": str(added.id), "csrf_token": token})
    assert gone.status_code == 302
    _wait_idle(jobs)
    assert all(r.path != card.resolve() for r in ctx.library.list_roots())
    assert (card / "b.jpg").is_file()


def test_filters_and_photo_page_show_a_roots_name_not_its_key(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    from tests.webui.conftest import admin_app, indexed_context

    nas = tmp_path / "NAS"
    write_jpeg(nas / "2019" / "summer" / "a.jpg", seed=1)
    write_jpeg(nas / "b.jpg", seed=2)
    settings = Settings(
        data_dir=tmp_path / "data", bundle_dir=tiny_bundle, backend_prefer="onnxruntime",
        library_roots=(nas,), host="127.0.0.1",
    )  # fmt: skip
    with indexed_context(settings) as ctx:
        client = admin_app(settings, ctx).test_client()
        login(client)
        home = client.get("/").get_data(as_text=True)
        assert ".roots" not in home and ">NAS (2)<" in home.replace("\u00a0", "")
        folders = client.get("/api/folders").get_json()["folders"]
        assert [(f["folder"], f["photos"]) for f in folders] == [
            ("NAS", 2), ("NAS/2019", 1), ("NAS/2019/summer", 1)
        ]  # fmt: skip
        shown = client.get("/api/timeline?folder=NAS/2019").get_json()["results"]
        assert len(shown) == 1 and shown[0]["folder_label"] == "NAS/2019/summer"
        assert len(client.get("/api/search?q=a+photo&folder=NAS/2019").get_json()["results"]) == 1
        filtered = client.get("/?folder=NAS/2019").get_data(as_text=True)
        assert 'value="NAS/2019" selected' in filtered and ".roots" not in filtered
        page = client.get(f"/photos/{shown[0]['id']}?folder=NAS/2019").get_data(as_text=True)
        assert "NAS/2019/summer" in page and ".roots/" not in page
        info = client.get(f"/api/photos/{shown[0]['id']}").get_json()
        assert info["folder_label"] == "NAS/2019/summer"
