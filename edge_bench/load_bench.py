"""`edge-bench load`: many clients against the real `edge-app serve` at 100k photos.

The library is `daemon_bench.build_library`'s (rows + embeddings through `Library`, one
JPEG hard-linked per row). For each batching mode (off: `max_batch` 1; on: the
defaults) a daemon is started, every call of the `load_mix` is answered once by a
single client (the reference), then Locust (headless, loopback only, bounded by
`step_s` and `max_requests` per step) drives 1..32 clients, first idle, then while an
import of `import_photos` new JPEGs runs. Per step: QPS and p50/p95/p99 per kind,
errors, 503s, wrong answers (vs the reference), daemon RSS, and how much of the step
the import was really running.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from edge_bench.daemon_bench import (
    PASSWORD,
    Client,
    _free_port,
    _wait_ready,
    _wait_scan,
    build_library,
    rss_mb,
)
from edge_bench.load_mix import mixed_calls, send

Log = Callable[[str], None]
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
BATCHING = {"off": {"EDGE_MAX_BATCH": "1"}, "on": {}}  # "on" = the settings' defaults
KINDS = ("text", "browse", "photo", "thumb", "image")


@dataclass(frozen=True)
class LoadConfig:
    bundle: Path
    photos: int = 100_000
    clients: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    step_s: float = 15.0
    max_requests: int = 5000  # per step: a bound on count as well as on time
    import_photos: int = 2000
    batching: tuple[str, ...] = ("off", "on")
    work: Path | None = None


@contextmanager
def served(
    data_dir: Path, bundle: Path, extra: dict[str, str]
) -> Iterator[tuple[int, str, Path]]:
    """`edge-app serve` on a free loopback port; yields (pid, base URL, the box's CA file)
    once it answers (HTTPS, verified against that CA)."""
    port = _free_port()
    env = {**os.environ, "EDGE_DATA_DIR": str(data_dir), "EDGE_BUNDLE_DIR": str(bundle)}
    env.update({"EDGE_HOST": "127.0.0.1", "EDGE_PORT": str(port), "EDGE_DECODE_WORKERS": "1"})
    env["EDGE_HTTP_REDIRECT_PORT"] = "0"
    env.update({"EDGE_TAG_BUILTIN_SETS": "", **extra})  # no tagging job between steps
    for name in ("EDGE_BACKEND", "NOTIFY_SOCKET"):
        env.pop(name, None)
    log_path = data_dir / f"daemon-{port}.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge_app.appliance.daemon"], env=env, stdout=out, stderr=out
        )
    base = f"https://127.0.0.1:{port}"
    ca_file = data_dir / "tls" / "ca.pem"  # the box's CA, made on the first start
    try:
        client = Client(base, ca_file)
        _wait_ready(proc, client, log_path)
        _wait_scan(client)
        yield proc.pid, base, ca_file
    finally:
        proc.terminate()
        proc.wait(timeout=300)


def query_jpeg() -> bytes:
    from build_engines.shapes import random_specs, render

    buf = BytesIO()
    render(random_specs(1, seed=9)[0], (640, 480)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def write_import(dest: Path, n: int, tag: str) -> None:
    """`n` JPEGs with distinct content hashes (a marker after the image data), so the
    indexer encodes every one instead of reusing a copy's embedding."""
    from build_engines.shapes import random_specs, render

    dest.mkdir(parents=True, exist_ok=True)
    seeds = []
    for spec in random_specs(16, seed=21):
        buf = BytesIO()
        render(spec, (480, 360)).save(buf, "JPEG", quality=88)
        seeds.append(buf.getvalue())
    for i in range(n):
        (dest / f"{tag}-{i:05d}.jpg").write_bytes(seeds[i % 16] + f"{tag}-{i}".encode())


def login(base: str, ca_file: Path) -> Any:
    """A logged-in `requests.Session` that verifies the box against its CA."""
    import requests

    session = requests.Session()
    session.trust_env = False  # else a REQUESTS_CA_BUNDLE in the environment wins
    session.verify = str(ca_file)
    reply = session.post(f"{base}/api/login", json={"password": PASSWORD}, timeout=60)
    reply.raise_for_status()
    session.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
    return session


def reference_spec(base: str, ca_file: Path, photos: int, jpeg: bytes, path: Path, cap: int) -> Path:
    """Every call of the mix answered once by one client: what each answer must equal."""
    session = login(base, ca_file)
    ids = [
        r["id"] for r in session.get(f"{base}/api/timeline?limit=8", timeout=60).json()["results"]
    ]
    calls = mixed_calls(ids, jpeg, browse_folder="synthetic/0042")
    refs = {}
    for call in calls:
        status, got = send(session, base, call, timeout=300)
        if status != 200:
            raise RuntimeError(f"reference call {call.name} answered {status}")
        refs[call.name] = got
    raw = [
        {**dataclasses.asdict(c), "image": base64.b64encode(c.image).decode() if c.image else None}
        for c in calls
    ]
    spec = {
        "calls": raw,
        "refs": refs,
        "new_from_id": photos + 1,
        # one login shared by every simulated client: the password hash is meant to be slow
        "cookie": session.cookies.get("edge_session"),
        "csrf": session.headers["X-CSRF-Token"],
    }
    path.write_text(json.dumps({**spec, "max_requests": cap}))
    return path


def run_step(
    base: str, ca_file: Path, pid: int, spec: Path, clients: int, cfg: LoadConfig
) -> dict[str, Any]:
    """One Locust run of `clients` users for `step_s`; stats per kind and the checks."""
    out = spec.parent / f"step-{clients}-{time.monotonic_ns()}"
    env = {**os.environ, "EDGE_LOAD_SPEC": str(spec), "EDGE_LOAD_COUNTS": f"{out}.counts.json"}
    env["REQUESTS_CA_BUNDLE"] = str(ca_file)  # Locust's requests session trusts the box's CA
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(clients), "-r", str(clients), "-t", f"{cfg.step_s:g}s", "-H", base,
        "--csv", str(out), "--only-summary", "--loglevel", "ERROR", "--stop-timeout", "10",
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    monitor = _Monitor(base, ca_file, pid)
    with monitor:
        subprocess.run(cmd, env=env, check=True, timeout=cfg.step_s + 120, capture_output=True)
    counts = json.loads(Path(f"{out}.counts.json").read_text())
    return {
        "clients": clients,
        "kinds": _kind_stats(Path(f"{out}_stats.csv")),
        **monitor.result(),
        **_checks(counts),
    }


def _kind_stats(path: Path) -> dict[str, dict[str, float]]:
    stats = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            if row["Name"] in KINDS:
                stats[row["Name"]] = {
                    "requests": int(row["Request Count"]),
                    "qps": round(float(row["Requests/s"]), 2),
                    "p50_ms": float(row["50%"]),
                    "p95_ms": float(row["95%"]),
                    "p99_ms": float(row["99%"]),
                }
    return stats


def _checks(counts: dict[str, int]) -> dict[str, Any]:
    def total(prefix: str) -> int:
        return sum(v for k, v in counts.items() if k.startswith(prefix) and isinstance(v, int))

    return {
        "sent": counts.get("sent", 0),
        "errors": total("error:"),
        "busy_503": total("busy:"),
        "wrong": total("wrong:"),
        "counts": counts,
    }


class _Monitor:
    """Samples the daemon's RSS and whether the import is running, once a second."""

    def __init__(self, base: str, ca_file: Path, pid: int) -> None:
        self.client, self.pid = Client(base, ca_file), pid
        self.rss: list[float] = []
        self.importing: list[bool] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _Monitor:
        self.client.login()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.rss.append(rss_mb(self.pid))
            state = self.client.call("/api/status")["progress"]["state"]
            self.importing.append(state in ("scanning", "indexing"))

    def result(self) -> dict[str, Any]:
        share = sum(self.importing) / len(self.importing) if self.importing else 0.0
        return {"rss_max_mb": max(self.rss, default=0.0), "import_active": round(share, 2)}


def run_mode(
    data_dir: Path, mode: str, cfg: LoadConfig, jpeg: bytes, log: Log
) -> list[dict[str, Any]]:
    rows = []
    imported = data_dir / "library" / f"import-{mode}"
    with served(data_dir, cfg.bundle, BATCHING[mode]) as (pid, base, ca_file):
        spec = reference_spec(
            base, ca_file, cfg.photos, jpeg, data_dir / f"spec-{mode}.json", cfg.max_requests
        )
        for importing in (False, True):
            if importing:
                write_import(imported, cfg.import_photos, mode)
                login(base, ca_file).post(f"{base}/api/reindex", timeout=60).raise_for_status()
            for n in cfg.clients:
                row = run_step(base, ca_file, pid, spec, n, cfg)
                rows.append({"batching": mode, "import": importing, **row})
                text = row["kinds"].get("text", {})
                log(
                    f"load: batching {mode}, import {importing}, {n} clients: text {text.get('qps')} q/s p95 {text.get('p95_ms')} ms, errors {row['errors']}, wrong {row['wrong']}"
                )
    shutil.rmtree(imported)  # the next daemon's start-up scan drops these rows again
    return rows


def run_load(cfg: LoadConfig, log: Log) -> dict[str, Any]:
    """Both batching modes, idle and importing, every client count; one library."""
    jpeg = query_jpeg()
    with tempfile.TemporaryDirectory(dir=cfg.work) as tmp:
        data_dir = Path(tmp) / "lib"
        built = build_library(data_dir, cfg.bundle, cfg.photos, log)
        rows = [r for mode in cfg.batching for r in run_mode(data_dir, mode, cfg, jpeg, log)]
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"library": built, "rows": rows}
