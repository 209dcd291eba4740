"""Regressions found by fuzzing the JSON API (tests/webui/test_api_fuzz.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from edge_app.appliance.daemon import JobQueue
from edge_app.settings import Settings
from tests.webui.conftest import admin_app, login
from webui.state import attach_jobs


def test_retag_on_a_job_queue_without_a_tags_job_is_refused_not_a_500(web_app: Flask) -> None:
    """A daemon queue that has no ``tags`` handler raised ValueError -> 500 (found by the
    fuzz server, whose queue only runs ``reindex``); now the job comes back refused."""
    jobs = JobQueue({"reindex": lambda stop, params: None}, threading.Event())
    attach_jobs(web_app, jobs)
    client = web_app.test_client()
    token = login(client)
    response = client.post("/api/tags/retag", headers={"X-CSRF-Token": token})
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["kind"] == "tags"
    assert body["state"] == "refused"
    assert "unknown job kind" in body["error"]
    jobs.close()


def test_trash_photo_ids_beyond_sqlite_integers_are_a_400_not_a_500(web_app: Flask) -> None:
    """``{"photo_ids": [2**107]}`` reached sqlite3 as an OverflowError (a 500); floats and
    bools were silently truncated to ids. Now every non-integer or out-of-range id is a 400
    before anything is looked up or moved."""
    client = web_app.test_client()
    token = login(client)
    for ids in ([135729096905949364767860233076736], [460940.0], [True], ["3"], [-1]):
        response = client.post(
            "/api/trash", json={"photo_ids": ids}, headers={"X-CSRF-Token": token}
        )
        assert response.status_code == 400, (ids, response.get_data(as_text=True))
        assert "whole numbers" in response.get_json()["error"]


def test_put_labels_of_a_missing_label_set_is_a_404_not_a_500(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    """Replacing the labels of an unknown set failed on the labels' foreign key
    (LibraryError -> 500); now the set is looked up first."""
    with _admin_client(tmp_path, tiny_bundle) as (client, token):
        response = client.put(
            "/api/label-sets/0", json={"labels": ["dent"]}, headers={"X-CSRF-Token": token}
        )
        assert response.status_code == 404, response.get_data(as_text=True)
        assert "label set 0 does not exist" in response.get_json()["error"]


def test_label_example_ids_beyond_sqlite_integers_are_a_404_not_a_500(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    """``"examples": [2**63]`` reached sqlite3 as an OverflowError (a 500)."""
    with _admin_client(tmp_path, tiny_bundle) as (client, token):
        body = {"name": "defects", "labels": [{"name": "dent", "examples": [2**63]}]}
        response = client.post("/api/label-sets", json=body, headers={"X-CSRF-Token": token})
        assert response.status_code == 404, response.get_data(as_text=True)
        assert client.get("/api/label-sets").get_json() == {"sets": []}


@contextmanager
def _admin_client(tmp_path: Path, bundle: Path) -> Iterator[tuple[FlaskClient, str]]:
    """An admin session (client, CSRF token) on a real context over an empty library."""
    from edge_app.context import AppContext

    settings = Settings(data_dir=tmp_path / "data", bundle_dir=bundle, host="127.0.0.1")
    with AppContext.open(settings) as ctx:
        client = admin_app(settings, ctx).test_client()
        yield client, login(client)
