"""Tags through the real web app: label sets over the JSON API, the daemon's real job queue
re-tagging from stored embeddings, the tag: grammar, Things pages and the photo panel."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from build_engines.shapes import COLORS, SHAPES
from edge_app.appliance.daemon import JobQueue
from edge_app.tags.jobs import index_then_tag_handler, tags_handler
from tests.webui.conftest import PASSWORD, csrf_from
from tests.webui.test_api import Shapes, _copy_photos, _settings
from webui.app import create_app
from webui.state import attach_jobs, web_state

COLOURS_BODY = {
    "name": "colours",
    "description": "shape colours",
    "labels": [{"name": c, "prompts": [f"a {c} {s}" for s in SHAPES]} for c in COLORS],
}


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, toy_bundle: Path, shapes_photos: Shapes
) -> Iterator[tuple[Any, JobQueue, list[int]]]:
    """An indexed library with the daemon's real job queue and worker thread."""
    from edge_app.context import AppContext

    settings = _settings(
        tmp_path_factory.mktemp("tagsapi") / "data", toy_bundle,
        tag_threshold=0.75, tag_builtin_sets="",
    )  # fmt: skip
    _copy_photos(shapes_photos, settings.library_dir)
    ctx = AppContext.open(settings)
    encoded: list[int] = []
    real = ctx.encoder.encode_pixels

    def counting(x: Any) -> Any:  # a spy: counts the photos encoded, then runs the real encoder
        encoded.append(len(x))
        return real(x)

    setattr(ctx.encoder, "encode_pixels", counting)  # noqa: B010
    stop = threading.Event()
    jobs = JobQueue({"reindex": index_then_tag_handler(ctx), "tags": tags_handler(ctx)}, stop)
    worker = threading.Thread(target=jobs.run_worker, daemon=True)
    worker.start()
    jobs.submit("reindex")
    _wait(jobs)
    yield ctx, jobs, encoded
    jobs.close()
    worker.join(10)
    ctx.close()


@pytest.fixture()
def app(served: tuple[Any, JobQueue, list[int]]) -> Flask:
    ctx, jobs, _ = served
    app = create_app(ctx.settings, ctx)
    if not web_state(app).passwords.is_set():
        web_state(app).passwords.set_password(PASSWORD)
    attach_jobs(app, jobs)
    return app


def _wait(jobs: JobQueue, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = jobs.snapshot()
        if snap["current"] is None and not snap["queued"]:
            failed = [j for j in snap["recent"] if j["state"] == "failed"]
            assert not failed, failed
            return
        time.sleep(0.05)
    raise AssertionError("jobs did not finish")


def _names(client: FlaskClient, results: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in results]


def _colour_of(shapes: Shapes) -> dict[str, str]:
    return {p.name: s.color for p, s in shapes}


def test_user_set_via_api_retags_without_reencoding_and_filters(
    client: FlaskClient, served: tuple[Any, JobQueue, list[int]], shapes_photos: Shapes
) -> None:
    ctx, jobs, encoded = served
    before = sum(encoded)
    assert before == len(shapes_photos)  # indexing encoded each photo once
    response = client.post("/api/label-sets", json=COLOURS_BODY)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["job"]["kind"] == "tags"
    _wait(jobs)
    assert sum(encoded) == before  # re-tagging used the stored embeddings only
    colour = _colour_of(shapes_photos)
    red = {name for name, c in colour.items() if c == "red"}
    body = client.get("/api/search?q=tag:red&limit=200").get_json()
    got = set(_names(client, body["results"]))
    assert len(got & red) >= 0.8 * len(red) and len(got - red) <= 0.1 * len(got)
    combined = client.get("/api/search?q=tag:red+circle&limit=200").get_json()["results"]
    assert set(_names(client, combined)) <= got and combined
    with shapes_photos[0][0].open("rb") as fh:
        image = client.post(
            "/api/search/image?tag=red&limit=200",
            data={"image": (fh, "q.jpg")}, content_type="multipart/form-data",
        ).get_json()["results"]  # fmt: skip
    assert set(_names(client, image)) == got
    tags = {t["name"]: t for t in client.get("/api/tags").get_json()["tags"]}
    assert tags["red"]["count"] == len(got) and tags["red"]["sets"] == ["colours"]
    page = client.get("/api/tags/red/photos?limit=5").get_json()
    assert page["total"] == len(got) and len(page["results"]) == 5
    status = client.get("/api/status").get_json()["tags"]
    assert status["sets"] >= 1 and status["tagged_photos"] >= len(got)


def test_editing_a_set_retags_and_keeps_other_sets(
    client: FlaskClient, served: tuple[Any, JobQueue, list[int]]
) -> None:
    ctx, jobs, encoded = served
    before = sum(encoded)
    shapes = client.post("/api/label-sets", json={
        "name": "shapes", "labels": [
            {"name": s, "prompts": [f"a {c} {s}" for c in COLORS], "pooling": "any"} for s in SHAPES
        ],
    })  # fmt: skip
    assert shapes.status_code == 201, shapes.get_json()
    _wait(jobs)
    set_id = shapes.get_json()["set"]["id"]
    counts = {t["name"]: t["count"] for t in client.get("/api/tags").get_json()["tags"]}
    edited = client.put(f"/api/label-sets/{set_id}", json={"labels": [
        {"name": "circle", "prompts": [f"a {c} circle" for c in COLORS], "pooling": "any"}
    ]})  # fmt: skip
    assert edited.status_code == 200 and edited.get_json()["set"]["label_count"] == 1
    _wait(jobs)
    after = {t["name"]: t["count"] for t in client.get("/api/tags").get_json()["tags"]}
    assert "square" not in after and after["circle"] == counts["circle"]
    assert {c: after.get(c) for c in COLORS} == {c: counts.get(c) for c in COLORS}
    assert sum(encoded) == before


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "x", "labels": ["ok", ""]}, 400, "label 2 has an empty name"),
        ({"name": "x", "labels": ["a", "A"]}, 400, "both named"),
        ({"name": "x", "labels": [f"l{i}" for i in range(3000)]}, 400, "more than the 1000"),
        ({"name": "", "labels": ["a"]}, 400, "needs a name"),
        ({"name": "x", "labels": []}, 400, "non-empty list"),
        ({"name": "x", "labels": [{"name": "a", "examples": [987654]}]}, 404, "example photos"),
        ({"name": "COLOURS", "labels": ["a"]}, 409, "already exists"),
    ],
)
def test_bad_label_sets_are_refused_and_store_nothing(
    client: FlaskClient, body: dict[str, Any], status: int, message: str
) -> None:
    client.post("/api/label-sets", json=COLOURS_BODY)  # present (or already there)
    before = client.get("/api/label-sets").get_json()["sets"]
    response = client.post("/api/label-sets", json=body)
    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert client.get("/api/label-sets").get_json()["sets"] == before


def test_unknown_tag_and_guest_writes_are_clear_errors(app: Flask, client: FlaskClient) -> None:
    response = client.get("/api/search?q=tag:unicorn")
    assert (
        response.status_code == 400
        and "no label is named 'unicorn'" in response.get_json()["error"]
    )
    assert client.delete("/api/label-sets/999999").status_code == 404
    assert client.get("/api/tags/unicorn/photos").status_code == 404
    assert client.get("/things/unicorn").status_code == 404
    anonymous = app.test_client()
    assert anonymous.post("/api/label-sets", json=COLOURS_BODY).status_code in (401, 403)


def test_things_pages_photo_panel_and_form(
    app: Flask, client: FlaskClient, served: tuple[Any, JobQueue, list[int]]
) -> None:
    ctx, jobs, _ = served
    client.post("/api/label-sets", json=COLOURS_BODY)
    _wait(jobs)
    html = client.get("/things").get_data(as_text=True)
    assert 'data-tag="red"' in html and "colours" in html
    tag_html = client.get("/things/red").get_data(as_text=True)
    photo_id = int(tag_html.split('data-photo-id="')[1].split('"')[0])
    panel = client.get(f"/photos/{photo_id}").get_data(as_text=True)
    assert 'class="photo-tags"' in panel and ">red</a>" in panel
    token = csrf_from(client, "/things")
    created = client.post("/things/sets", data={
        "csrf_token": token, "name": "defects", "labels": "scratch: a scratched surface\ndent",
    })  # fmt: skip
    assert created.status_code == 302
    refused = client.post("/things/sets", data={"csrf_token": token, "name": "d2", "labels": ": x"})
    assert refused.status_code == 400 and "empty name" in refused.get_data(as_text=True)
    no_token = {"HTTP_X_CSRF_TOKEN": "forged"}
    forged = client.post(
        "/things/sets", data={"name": "d3", "labels": "a"}, environ_overrides=no_token
    )
    assert forged.status_code == 403
    _wait(jobs)


def test_new_photos_are_tagged_by_the_reindex_job(
    client: FlaskClient, served: tuple[Any, JobQueue, list[int]], tmp_path: Path
) -> None:
    from build_engines.shapes import ShapeSpec, render

    ctx, jobs, encoded = served
    client.post("/api/label-sets", json=COLOURS_BODY)
    _wait(jobs)
    before = sum(encoded)
    render(ShapeSpec("circle", "yellow", "white", seed=77)).save(
        ctx.settings.library_dir / "new_yellow.jpg", quality=92
    )
    jobs.submit("reindex")
    _wait(jobs)
    assert sum(encoded) == before + 1  # only the new photo was encoded
    new = ctx.library.find_by_rel_path("new_yellow.jpg")
    labels = [label for _set, label, _score in ctx.library.photo_tags(new.id)]
    assert "yellow" in labels
