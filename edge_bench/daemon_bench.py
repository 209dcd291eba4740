"""`edge-bench daemon`: memory and latency of the real `edge-app serve` at library sizes.

The library is synthetic but goes through the appliance's own code: rows + float16
embeddings written by `Library.record_photos` (no decoding, no encoder), and one small
JPEG hard-linked under every row's path, so the daemon's start-up scan finds every
photo present (otherwise it would rightly delete the rows). Embeddings carry the
bundle's id, so nothing is re-encoded. Each run deletes the saved FAISS index first:
"start" therefore includes building the index, as after an upgrade or a repair.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from edge_bench.search_bench import clustered_vectors
from edge_bench.stats import summarize

Log = Callable[[str], None]
PASSWORD = "edge-bench-daemon"
TEXT_QUERIES = ("a dog on the beach", "red car at night", "birthday cake", "snowy forest")
PER_FOLDER = 1000
START_TIMEOUT_S = 1800.0
IDLE_CHECK_S = 7.0  # the daemon looks for an idle image tower every 5 s


@dataclass(frozen=True)
class DaemonConfig:
    bundle: Path
    sizes: tuple[int, ...]
    prefers: tuple[str, ...]  # "default" = engines.open's own choice, else EDGE_BACKEND
    queries: int = 30
    work: Path | None = None
    settle_s: float = 5.0
    idle_s: float = 10.0  # the served daemon's image_model_idle_s: "RSS idle" is after it


def _seed_jpeg(path: Path) -> None:
    from build_engines.shapes import random_specs, render

    render(random_specs(1, seed=5)[0], (320, 240)).save(path, quality=85)


LINKS_PER_FILE = 50_000  # ext4 allows 65,000 hard links per inode


def _seed_copy(seed: Path, i: int) -> Path:
    """The seed JPEG for photo `i`: one byte-identical copy per LINKS_PER_FILE photos."""
    copy = seed.with_name(f"seed-{i // LINKS_PER_FILE}.jpg")
    if not copy.exists():
        shutil.copy2(seed, copy)
    return copy


def build_library(data_dir: Path, bundle: Path, n: int, log: Log) -> dict[str, Any]:
    """N synthetic photos: hard links to one JPEG + rows/embeddings via `Library`."""
    from edge_app.library.records import PhotoMeta
    from edge_app.library.store import Library
    from edge_app.settings import Settings
    from engines.manifest import Manifest

    manifest = Manifest.load(bundle)
    settings = Settings(data_dir=data_dir, bundle_dir=bundle)
    settings.ensure_dirs()
    seed = data_dir / "seed.jpg"
    _seed_jpeg(seed)
    st = seed.stat()
    vecs = clustered_vectors(n, manifest.embedding_dim, seed=3)
    t0 = time.perf_counter()
    lib = Library(settings.db_path)
    try:
        for start in range(0, n, 5000):
            items = []
            for i in range(start, min(n, start + 5000)):
                rel = f"synthetic/{i // PER_FOLDER:04d}/{i:07d}.jpg"
                dest = settings.library_dir / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.link(_seed_copy(seed, i), dest)
                meta = PhotoMeta(rel, st.st_size, st.st_mtime_ns, sha256=f"{i:064x}")
                items.append((meta, vecs[i]))
            lib.record_photos(items, manifest.bundle_id)
            log(f"daemon: library {min(n, start + 5000)}/{n}")
    finally:
        lib.close()
    from webui.passwords import PasswordStore

    PasswordStore(data_dir).set_password(PASSWORD)
    return {
        "photos": n,
        "build_s": round(time.perf_counter() - t0, 1),
        "bundle_id": manifest.bundle_id,
    }


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc (MiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise ValueError(f"no VmRSS for pid {pid}")


def rss_breakdown(pid: int) -> dict[str, float]:
    """Resident MiB by kind of mapping (/proc/PID/smaps): where the daemon's memory is.

    ``weights``: the bundle's model files mapped by the runtime; ``libraries``: shared
    objects (.so); ``anonymous``: heap and anonymous maps (Python objects, the FAISS
    index, compiled-model buffers, decoded images); ``other``: any other file.
    """
    kb: dict[str, int] = {"weights": 0, "libraries": 0, "anonymous": 0, "other": 0}
    kind = "anonymous"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and not line.startswith(("Rss", "Size")):
            path = head[5] if len(head) > 5 else ""
            kind = _mapping_kind(path)
        elif line.startswith("Rss:"):
            kb[kind] += int(head[1])
    return {k: round(v / 1024, 1) for k, v in kb.items()}


def _mapping_kind(path: str) -> str:
    if not path or path.startswith("["):
        return "anonymous"
    if path.endswith((".bin", ".onnx", ".plan", ".xml")):
        return "weights"
    if ".so" in Path(path).name:
        return "libraries"
    return "other"


class Client:
    """A logged-in HTTPS session against the daemon (cookie + CSRF token), verifying the
    daemon's certificate against `ca_file` (the box's CA, made when the daemon starts)."""

    def __init__(self, base: str, ca_file: Path) -> None:
        self.base = base
        self.ca_file = ca_file
        self.cookies = http.cookiejar.CookieJar()
        self.opener: urllib.request.OpenerDirector | None = None
        self.csrf = ""

    def _opener(self) -> urllib.request.OpenerDirector:
        if self.opener is None:  # FileNotFoundError (an OSError) until the daemon made the CA
            context = ssl.create_default_context(cafile=str(self.ca_file))
            self.opener = urllib.request.build_opener(
                urllib.request.HTTPCookieProcessor(self.cookies),
                urllib.request.HTTPSHandler(context=context),
            )
        return self.opener

    def call(
        self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        with self._opener().open(req, timeout=600) as resp:
            return json.loads(resp.read())

    def login(self) -> None:
        body = json.dumps({"password": PASSWORD}).encode()
        self.csrf = self.call("/api/login", body, {"Content-Type": "application/json"})[
            "csrf_token"
        ]

    def text(self, q: str) -> Any:
        return self.call("/api/search?limit=24&q=" + urllib.parse.quote(q))

    def image(self, jpeg: bytes) -> Any:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="q.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + jpeg
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-CSRF-Token": self.csrf,
        }
        return self.call("/api/search/image?limit=24", body, headers)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], client: Client, log_path: Path) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < START_TIMEOUT_S:
        if proc.poll() is not None:
            raise RuntimeError(f"edge-app serve exited: {log_path.read_text()[-3000:]}")
        try:
            client.login()
            return time.perf_counter() - t0
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"edge-app serve did not answer within {START_TIMEOUT_S} s")


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def _wait_scan(client: Client, limit_s: float = 1800.0) -> float:
    """Seconds until the start-up reindex job (the scan of every file) is done."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        if client.call("/api/status")["progress"]["state"] in ("done", "failed", "stopped"):
            return time.perf_counter() - t0
        time.sleep(1.0)
    return -1.0


def _wait_jobs(client: Client, limit_s: float = 1800.0) -> float:
    """Seconds until no job runs or waits (after the scan, the daemon tags and reads text).

    Why: a tagging run (tens of seconds at 100k photos when the label vectors are not
    cached yet) took a core while the queries were timed, and whichever daemon of a run met
    it looked 2-3x slower (docs/benchmarks/daemon-100k); latency is measured on an idle box.
    """
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        jobs = client.call("/api/status").get("jobs") or {}
        if jobs.get("current") is None and not jobs.get("queued"):
            return time.perf_counter() - t0
        time.sleep(1.0)
    return -1.0


def run_one(data_dir: Path, cfg: DaemonConfig, prefer: str, jpeg: bytes) -> dict[str, Any]:
    """Start the daemon, measure, stop it; the saved index is removed first."""
    shutil.rmtree(data_dir / "index", ignore_errors=True)  # Settings.index_dir
    port = _free_port()
    env = {
        **os.environ,
        "EDGE_DATA_DIR": str(data_dir),
        "EDGE_BUNDLE_DIR": str(cfg.bundle),
        "EDGE_HOST": "127.0.0.1",
        "EDGE_PORT": str(port),
        "EDGE_HTTP_REDIRECT_PORT": "0",
        "EDGE_DECODE_WORKERS": "1",
        "EDGE_IMAGE_MODEL_IDLE_S": str(cfg.idle_s),
    }
    env.pop("EDGE_BACKEND", None)
    env.pop("NOTIFY_SOCKET", None)
    if prefer != "default":
        env["EDGE_BACKEND"] = prefer
    log_path = data_dir / f"daemon-{prefer.replace(':', '-')}.log"
    exe = Path(sys.executable).with_name("edge-app")
    with log_path.open("wb") as out:
        proc = subprocess.Popen([str(exe), "serve"], env=env, stdout=out, stderr=out)
    client = Client(f"https://127.0.0.1:{port}", data_dir / "tls" / "ca.pem")
    try:
        return _measure(proc, client, log_path, cfg, jpeg)
    finally:
        proc.terminate()
        proc.wait(timeout=300)


def _measure(
    proc: subprocess.Popen[bytes], client: Client, log_path: Path, cfg: DaemonConfig, jpeg: bytes
) -> dict[str, Any]:
    start_s = _wait_ready(proc, client, log_path)
    row: dict[str, Any] = {"start_s": round(start_s, 2), "rss_after_start_mb": rss_mb(proc.pid)}
    row["first_query_ms"] = round(_timed(lambda: client.text(TEXT_QUERIES[0])), 1)
    row["first_image_query_ms"] = round(_timed(lambda: client.image(jpeg)), 1)
    row["rss_after_first_query_mb"] = rss_mb(proc.pid)
    row["startup_scan_s"] = round(_wait_scan(client), 1)
    row["startup_jobs_s"] = round(_wait_jobs(client), 1)
    time.sleep(cfg.settle_s)
    n = cfg.queries
    texts = [f"{TEXT_QUERIES[i % len(TEXT_QUERIES)]} {i}" for i in range(n)]
    text_ms = [_timed(partial(client.text, q)) for q in texts]
    image_ms = [_timed(lambda: client.image(jpeg)) for _ in range(n)]
    row["text"] = asdict(summarize(text_ms))
    row["image"] = asdict(summarize(image_ms))
    row["rss_steady_mb"] = rss_mb(proc.pid)
    row["rss_steady_by_kind_mb"] = rss_breakdown(proc.pid)
    time.sleep(cfg.idle_s + IDLE_CHECK_S)  # the daemon frees the unused image tower
    row["rss_idle_mb"] = rss_mb(proc.pid)
    status = client.call("/api/status")
    row["engine"] = status.get("engine", {})
    row["indexed"] = status.get("counts", {}).get("indexed")
    return row


def run_daemon(cfg: DaemonConfig, log: Log) -> dict[str, Any]:
    """Every size x precision; one library per size, shared by its precisions."""
    from io import BytesIO

    from build_engines.shapes import random_specs, render

    buf = BytesIO()
    render(random_specs(1, seed=9)[0], (640, 480)).save(buf, "JPEG", quality=90)
    results = []
    with tempfile.TemporaryDirectory(dir=cfg.work) as tmp:
        for n in cfg.sizes:
            data_dir = Path(tmp) / f"lib-{n}"
            built = build_library(data_dir, cfg.bundle, n, log)
            for prefer in cfg.prefers:
                log(f"daemon: {n} photos, {prefer}: starting edge-app serve")
                row = run_one(data_dir, cfg, prefer, buf.getvalue())
                results.append(
                    {"photos": n, "prefer": prefer, "library_build_s": built["build_s"], **row}
                )
            shutil.rmtree(data_dir, ignore_errors=True)
    return {"results": results}


def daemon_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    """One row per size x precision, memory then latency."""
    from edge_bench.report import results_markdown

    head = [
        "photos",
        "prefer",
        "start s",
        "RSS start MB",
        "RSS 1st query MB",
        "RSS steady MB",
        "of which weights / libs / anon MB",
        "RSS idle MB",
        "1st text ms",
        "text p50/p95 ms",
        "image p50/p95 ms",
        "scan s",
    ]
    rows = [
        [
            r["photos"],
            r["prefer"],
            r["start_s"],
            r["rss_after_start_mb"],
            r["rss_after_first_query_mb"],
            r["rss_steady_mb"],
            " / ".join(
                str(r.get("rss_steady_by_kind_mb", {}).get(k, "-"))
                for k in ("weights", "libraries", "anonymous")
            ),
            r.get("rss_idle_mb", "-"),
            r["first_query_ms"],
            f"{r['text']['p50_ms']:.1f} / {r['text']['p95_ms']:.1f}",
            f"{r['image']['p50_ms']:.1f} / {r['image']['p95_ms']:.1f}",
            r["startup_scan_s"],
        ]
        for r in payload["results"]
    ]
    intro = (
        "The real `edge-app serve` over a synthetic library (rows + float16 embeddings via "
        "`Library`, one JPEG hard-linked per row, clustered unit vectors). Start = until "
        "`/api/login` answers, including the FAISS index build (saved index removed first). "
        "Queries go over HTTPS through the daemon's server (cheroot) + Flask: text = `GET /api/search`, image = "
        "`POST /api/search/image` with a 640x480 JPEG (decode + encode + search). RSS idle = "
        "after `image_model_idle_s` without image work (the daemon frees the image tower)."
    )
    return results_markdown("Daemon memory and query latency", payload, intro, head, rows, charts)
