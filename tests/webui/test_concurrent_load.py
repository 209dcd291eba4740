"""Many people at once, against the real HTTPS server of `edge-app serve`.

16 clients send the benchmark's mixed requests (text and image search, timeline, photo
metadata, thumbnails, text embeddings) while an index job adds photos: no 5xx, every
answer equal to the one a single client got (a response carrying another request's
results is a wrong answer), and afterwards every photo is in the library exactly once
and in the index. OpenVINO on purpose: its shared infer request was the bug. Then the
queue-full path: a 503 with Retry-After, JSON for the API and a busy page for people.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from build_engines.shapes import write_folder
from edge_app.appliance.daemon import JobQueue
from edge_app.context import AppContext
from edge_bench.load_mix import mixed_calls, same_answer, send
from engines.batching import BatchPolicy
from tests.webui.conftest import PASSWORD, admin_app, real_settings
from tests.webui.live_server import LiveServer, live_server
from webui.state import attach_jobs

CLIENTS = 16
ROUNDS = 12
NEW_PHOTOS = 64


@dataclasses.dataclass
class Served:
    url: str
    live: LiveServer
    ctx: AppContext
    staged: Path  # photos the index job will add


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, toy_bundle: Path, shapes_photos: list[Any]
) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("load")
    settings = dataclasses.replace(real_settings(root, toy_bundle), backend_prefer="openvino")
    (settings.library_dir / "base").mkdir(parents=True)
    for path, _spec in shapes_photos:
        shutil.copy2(path, settings.library_dir / "base" / path.name)
    staged = root / "staged"
    write_folder(staged, n=NEW_PHOTOS, seed=77, size=(320, 240))  # the index job's work
    ctx = AppContext.open(settings)
    ctx.index_library()
    app = admin_app(settings, ctx)
    stop = threading.Event()
    jobs = JobQueue({"reindex": lambda s, p: ctx.index_library(stop_event=s)}, stop)
    attach_jobs(app, jobs)
    worker = threading.Thread(target=jobs.run_worker, daemon=True)
    worker.start()
    try:
        with live_server(app, settings, threads=CLIENTS) as live:
            yield Served(live.base_url, live, ctx, staged)
    finally:
        jobs.close()
        stop.set()
        worker.join(timeout=60)
        ctx.close()


def _session(served: Served) -> requests.Session:
    """A logged-in client that verifies the server against the box's CA."""
    session = served.live.session()
    reply = session.post(f"{served.url}/api/login", json={"password": PASSWORD}, timeout=30)
    assert reply.status_code == 200, reply.text
    session.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
    return session


def _query_jpeg(photos: list[Any]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    with Image.open(photos[0][0]) as img:
        img.convert("RGB").resize((200, 150)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_16_clients_with_an_index_job_get_only_their_own_answers(
    served: Served, shapes_photos: list[Any]
) -> None:
    admin = _session(served)
    ids = [r["id"] for r in admin.get(f"{served.url}/api/timeline?folder=base").json()["results"]]
    calls = mixed_calls(ids, _query_jpeg(shapes_photos), folder="base")
    reference = {c.name: send(admin, served.url, c) for c in calls}
    assert all(status == 200 for status, _ in reference.values()), reference
    sessions = [_session(served) for _ in range(CLIENTS)]
    shutil.copytree(served.staged, served.ctx.settings.library_dir / "new")
    assert admin.post(f"{served.url}/api/reindex", timeout=30).status_code in (200, 202)
    statuses: Counter[int] = Counter()
    wrong: list[str] = []
    start = threading.Barrier(CLIENTS)

    def client(i: int) -> None:
        start.wait()
        for r in range(ROUNDS):
            call = calls[(i * 5 + r * 3) % len(calls)]
            status, got = send(sessions[i], served.url, call)
            statuses[status] += 1
            if status == 200 and not same_answer(call.kind, got, reference[call.name][1]):
                wrong.append(f"client {i}: {call.name}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    began = time.monotonic()
    for t in threads:
        t.start()
    states = set()
    while any(t.is_alive() for t in threads) and time.monotonic() - began < 120:
        states.add(served.ctx.progress.snapshot()["state"])
        time.sleep(0.02)
    assert states & {"scanning", "indexing"}, f"the index job did not overlap the load: {states}"
    assert statuses == Counter({200: CLIENTS * ROUNDS}), statuses
    assert not wrong, f"{len(wrong)} wrong answers: {wrong[:5]}"
    assert time.monotonic() - began < 60
    _wait_for_index_job(admin, served.url)
    _assert_every_photo_once(served.ctx, len(shapes_photos) + NEW_PHOTOS)


def _wait_for_index_job(session: requests.Session, base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = session.get(f"{base}/api/status", timeout=30).json()["progress"]["state"]
        if state in ("done", "failed", "stopped"):
            assert state == "done"
            return
        time.sleep(0.2)
    pytest.fail("the index job did not finish")


def _assert_every_photo_once(ctx: AppContext, expected: int) -> None:
    photos = ctx.reader.list_photos(limit=10_000)
    paths = Counter(p.rel_path for p in photos)
    assert len(photos) == expected and set(paths.values()) == {1}
    index = ctx.store.current()
    assert len(index) == ctx.reader.count_embeddings(ctx.encoder.bundle_id) == expected
    assert sorted(int(i) for i in index.ids()) == sorted(p.id for p in photos)


def test_a_full_tower_queue_answers_503_with_retry_after(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = served.ctx.encoder.batchers[1]  # the text tower's
    monkeypatch.setattr(batcher, "policy", BatchPolicy(max_batch=1, queue_size=1))
    sessions = [_session(served) for _ in range(3)]
    answers: list[int] = []

    def search(i: int) -> None:
        reply = sessions[i].get(f"{served.url}/api/search", params={"q": f"held {i}"}, timeout=60)
        answers.append(reply.status_code)

    held = served.ctx.encoder.text_runner._requests  # type: ignore[attr-defined]
    with held.borrow():  # the tower is busy: the worker blocks inside its run
        first = threading.Thread(target=search, args=(0,))
        first.start()
        runner = served.ctx.encoder.text_runner
        _until(lambda: runner._in_flight == 1 and not batcher._queue)
        second = threading.Thread(target=search, args=(1,))
        second.start()
        _until(lambda: len(batcher._queue) == 1)
        api = sessions[2].get(f"{served.url}/api/search", params={"q": "one more"}, timeout=10)
        page = sessions[2].get(f"{served.url}/", params={"q": "one more"}, timeout=10)
    first.join(60)
    second.join(60)
    assert api.status_code == 503 and api.headers["Retry-After"] == "1"
    assert "busy" in api.json()["error"]
    assert page.status_code == 503 and page.headers["Retry-After"] == "1"
    assert "The box is busy" in page.text and 'http-equiv="refresh" content="1"' in page.text
    assert sorted(answers) == [200, 200]  # the waiting searches were not lost


def _until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the server did not reach the expected state")
        time.sleep(0.01)
    time.sleep(0.1)
