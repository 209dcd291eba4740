"""`edge-bench soak`: mixed load while an import runs, the daemon SIGKILLed mid-import
and restarted, then the invariants a crash must not break.

Afterwards every photo file is in the library exactly once, the saved FAISS index holds
exactly the embedded photos of the database (loaded as saved, never repaired here), and
no answer during the whole run carried another request's results (searches and the
timeline are scoped to the `base` folder, which the import does not touch, and compared
with a single client's answers). The CI test runs a short version on the toy bundle.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_bench.daemon_bench import PASSWORD, Client, _free_port, _wait_ready, _wait_scan
from edge_bench.load_bench import login, query_jpeg, write_import
from edge_bench.load_mix import Call, mixed_calls, same_answer, send

Log = Callable[[str], None]
AFTER_RESTART_S = 3.0  # load on the restarted daemon at least this long


@dataclass(frozen=True)
class SoakConfig:
    bundle: Path
    data_dir: Path
    duration_s: float = 600.0
    clients: int = 4
    base_photos: int = 48
    import_photos: int = 400
    kill_at: float = 0.5  # SIGKILL once this share of the import is indexed


@dataclass
class Tally:
    """What the clients saw: statuses, wrong answers, requests made while the daemon was down."""

    statuses: Counter[int] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    down: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Daemon:
    """`edge-app serve` on a fixed loopback port: started, SIGKILLed, restarted."""

    def __init__(self, data_dir: Path, bundle: Path) -> None:
        self.port = _free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.ca_file = data_dir / "tls" / "ca.pem"  # the box's CA, made on the first start
        self.env = {
            **os.environ, "EDGE_DATA_DIR": str(data_dir), "EDGE_BUNDLE_DIR": str(bundle),
            "EDGE_HOST": "127.0.0.1", "EDGE_PORT": str(self.port), "EDGE_DECODE_WORKERS": "1",
            "EDGE_HTTP_REDIRECT_PORT": "0",
            "EDGE_TAG_BUILTIN_SETS": "",  # the import is the work under test, not tagging
        }  # fmt: skip
        self.env.pop("NOTIFY_SOCKET", None)
        self.log_path = data_dir / "soak-daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge_app.appliance.daemon"],
                env=self.env, stdout=out, stderr=out,
            )  # fmt: skip
        _wait_ready(self.proc, self.client(), self.log_path)

    def client(self) -> Client:
        return Client(self.base, self.ca_file)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=120)


def prepare(cfg: SoakConfig, photos: Path) -> None:
    """The base library (indexed by the first start-up scan) and the password."""
    from webui.passwords import PasswordStore

    base = cfg.data_dir / "library" / "base"
    base.mkdir(parents=True, exist_ok=True)
    for path in sorted(photos.glob("*.jpg"))[: cfg.base_photos]:
        shutil.copy2(path, base / path.name)
    PasswordStore(cfg.data_dir).set_password(PASSWORD)


def clients_loop(daemon: Daemon, calls: list[Call], refs: dict[str, Any], stop: threading.Event, tally: Tally, i: int) -> None:  # fmt: skip
    import requests

    session: Any = None
    r = i
    while not stop.is_set():
        call, r = calls[r % len(calls)], r + 7
        try:
            session = session or login(daemon.base, daemon.ca_file)
            status, got = send(session, daemon.base, call, timeout=120)
        except (requests.ConnectionError, requests.Timeout, OSError):
            with tally.lock:
                tally.down += 1
            session = None
            time.sleep(0.2)
            continue
        with tally.lock:
            tally.statuses[status] += 1
            if status == 200 and not same_answer(call.kind, got, refs[call.name]):
                tally.wrong.append(call.name)


def run_soak(cfg: SoakConfig, photos: Path, log: Log) -> dict[str, Any]:
    prepare(cfg, photos)
    daemon = Daemon(cfg.data_dir, cfg.bundle)
    daemon.start()
    try:
        client = daemon.client()
        client.login()
        _wait_scan(client)
        _wait_indexed(client, cfg.base_photos)
        session = login(daemon.base, daemon.ca_file)
        ids = [
            r["id"]
            for r in session.get(f"{daemon.base}/api/timeline?folder=base").json()["results"]
        ]
        calls = mixed_calls(ids, query_jpeg(), folder="base")
        refs = {c.name: send(session, daemon.base, c)[1] for c in calls}
        write_import(cfg.data_dir / "library" / "import", cfg.import_photos, "soak")
        session.post(f"{daemon.base}/api/reindex", timeout=60).raise_for_status()
        return _load_with_kill(cfg, daemon, calls, refs, log)
    finally:
        daemon.stop()


def _load_with_kill(cfg: SoakConfig, daemon: Daemon, calls: list[Call], refs: dict[str, Any], log: Log) -> dict[str, Any]:  # fmt: skip
    stop, tally = threading.Event(), Tally()
    threads = [
        threading.Thread(target=clients_loop, args=(daemon, calls, refs, stop, tally, i))
        for i in range(cfg.clients)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    progress = _until_import_share(daemon, cfg.kill_at * cfg.import_photos, 300)
    log(f"soak: SIGKILL at {progress['done']}/{progress['total']} ({progress['state']})")
    daemon.kill()
    down_from = time.monotonic()
    daemon.start()
    restart_s = time.monotonic() - down_from
    time.sleep(max(AFTER_RESTART_S, cfg.duration_s - (time.monotonic() - started)))
    stop.set()
    for t in threads:
        t.join(180)
    client = daemon.client()
    client.login()
    _wait_scan(client)
    daemon.stop()
    return {
        "duration_s": round(time.monotonic() - started, 1),
        "killed_at": progress,
        "restart_s": round(restart_s, 1),
        "statuses": dict(tally.statuses),
        "requests_while_down": tally.down,
        "wrong": len(tally.wrong),
        "wrong_examples": tally.wrong[:5],
        **verify_library(cfg),
    }


def _wait_indexed(client: Client, photos: int, limit_s: float = 300.0) -> None:
    """Until the base photos are indexed: the start-up scan leaves files younger than
    `watch_settle_s` to the watcher, so "done" alone can come before the photos are in."""
    deadline = time.monotonic() + limit_s
    while client.call("/api/status")["counts"].get("indexed", 0) < photos:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the daemon did not index the {photos} base photos in time")
        time.sleep(0.2)


def _until_import_share(daemon: Daemon, done: float, limit_s: float) -> dict[str, Any]:
    """The import's progress once `done` photos are indexed (or when it is over)."""
    client = daemon.client()
    client.login()
    deadline, started = time.monotonic() + limit_s, False
    while True:
        progress: dict[str, Any] = client.call("/api/status")["progress"]
        running = progress["state"] in ("scanning", "indexing")
        started = started or running  # before, "done" is the start-up scan's
        if (running and progress["done"] >= done) or (started and not running):
            return progress
        if time.monotonic() > deadline:
            return progress
        time.sleep(0.05)


def verify_library(cfg: SoakConfig) -> dict[str, Any]:
    """Every file once in the database; the saved index == the embedded photos."""
    from edge_app.errors import VectorIndexError
    from edge_app.library.store import Library
    from edge_app.search.index_store import IndexStore
    from edge_app.settings import Settings
    from engines.manifest import Manifest

    settings = Settings(data_dir=cfg.data_dir, bundle_dir=cfg.bundle)
    manifest = Manifest.load(cfg.bundle)
    files = sorted(
        str(p.relative_to(settings.library_dir)) for p in settings.library_dir.rglob("*.jpg")
    )
    lib = Library.open_reader(settings.db_path)
    try:
        rows = Counter(p.rel_path for p in lib.list_photos(limit=10 * len(files) + 10))
        embedded = sorted(int(i) for ids, _ in lib.iter_embeddings(manifest.bundle_id) for i in ids)
        try:
            index = IndexStore(settings.index_dir).load(
                manifest.bundle_id, lib.index_generation(), manifest.embedding_dim
            )
            in_index, index_error = sorted(int(i) for i in index.ids()), None
        except VectorIndexError as exc:  # a saved index that does not match: the failure
            in_index, index_error = [], str(exc)
    finally:
        lib.close()
    return {
        "files": len(files),
        "photos": sum(rows.values()),
        "doubled": sorted(k for k, v in rows.items() if v > 1),
        "missing": sorted(set(files) - set(rows))[:10],
        "index_matches_db": in_index == embedded,
        "index_error": index_error,
        "embedded": len(embedded),
    }


def soak_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    from edge_bench.report import results_markdown

    keys = ("duration_s", "killed_at", "restart_s", "statuses", "requests_while_down",
            "wrong", "files", "photos", "doubled", "missing", "index_matches_db", "index_error")  # fmt: skip
    rows = [[k, payload.get(k)] for k in keys]
    intro = "Mixed load while an import runs; the daemon is SIGKILLed mid-import and restarted."
    return results_markdown("Soak with faults", payload, intro, ["check", "value"], rows, charts)
