"""The daemon's own pieces: job queue, sd_notify, JSON logs (no AppContext needed)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from edge_app.appliance.daemon import JobQueue, JsonLogFormatter
from edge_app.appliance.sd_notify import Notifier


def _queue(calls: list[str], started: threading.Event, release: threading.Event) -> JobQueue:
    def reindex(stop: threading.Event, params: Mapping[str, Any]) -> None:
        calls.append("reindex")
        started.set()
        release.wait(timeout=30)

    def broken(stop: threading.Event, params: Mapping[str, Any]) -> None:
        raise OSError("disk gone")

    return JobQueue({"reindex": reindex, "broken": broken}, threading.Event())


def test_job_queue_dedupes_runs_and_records_failures() -> None:
    calls: list[str] = []
    started, release = threading.Event(), threading.Event()
    jobs = _queue(calls, started, release)
    worker = threading.Thread(target=jobs.run_worker)
    worker.start()
    first = jobs.submit("reindex")
    assert started.wait(timeout=30)  # first job is running, the next ones wait
    second = jobs.submit("reindex")
    assert jobs.submit("reindex")["id"] == second["id"] != first["id"]
    jobs.submit("broken")
    assert [j["kind"] for j in jobs.snapshot()["queued"]] == ["reindex", "broken"]
    release.set()
    jobs.submit("reindex")  # deduped against the waiting one
    while len(jobs.snapshot()["recent"]) < 3:
        threading.Event().wait(0.05)
    jobs.close()
    worker.join(timeout=30)
    recent = jobs.snapshot()["recent"]
    assert [(j["kind"], j["state"]) for j in recent] == [
        ("reindex", "done"),
        ("reindex", "done"),
        ("broken", "failed"),
    ]
    assert recent[2]["error"] == "OSError: disk gone"
    assert calls == ["reindex", "reindex"]


def test_closed_queue_refuses_jobs() -> None:
    jobs = _queue([], threading.Event(), threading.Event())
    jobs.close()
    with pytest.raises(RuntimeError, match="shutting down"):
        jobs.submit("reindex")
    with pytest.raises(ValueError, match="unknown job kind"):
        jobs.submit("format-disk")


def test_notifier_is_a_noop_without_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    notifier = Notifier()
    notifier.notify("READY=1")  # must not raise
    assert notifier.watchdog_interval_s is None


def test_notifier_talks_to_the_notify_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(10)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "10000000")
        notifier = Notifier()
        assert notifier.watchdog_interval_s == 5.0
        notifier.notify("READY=1")
        notifier.notify("WATCHDOG=1")
        assert server.recv(100) == b"READY=1"
        assert server.recv(100) == b"WATCHDOG=1"


def test_logs_are_json_lines() -> None:
    record = logging.LogRecord("edge", logging.INFO, __file__, 1, "event=%s n=%d", ("x", 3), None)
    entry = json.loads(JsonLogFormatter().format(record))
    assert entry["msg"] == "event=x n=3" and entry["level"] == "info"
