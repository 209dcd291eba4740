"""`edge-app serve`: one process with the web server and the background indexer.

Why one process: the appliance has a few GB of RAM and one model; the web app and the
indexer share the loaded encoder, the SQLite library and the FAISS index through one
`AppContext`. Layout:

* main thread: the HTTPS web server (`edge_app.appliance.web_server`) serving `webui.create_app`;
* ``edge-jobs`` thread: a small FIFO of jobs (re-index requests, later USB imports), run
  one at a time, so two indexing runs never fight over the writer connection;
* ``edge-watch`` thread (`edge_app.watch`): follows the photo roots and only *submits*
  ``watch-index``/``rescan`` jobs, so the job thread stays the one writer;
* ``edge-watchdog`` thread (only under systemd): WATCHDOG=1 pings and STATUS= lines.

SIGTERM/SIGINT: stop accepting jobs, ask the running job to stop (the indexer checkpoints
its current batch), save the index, exit 0.
"""

from __future__ import annotations

import json
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from types import FrameType
from typing import TYPE_CHECKING, Any

from edge_app.appliance import heap
from edge_app.appliance.sd_notify import Notifier
from edge_app.appliance.web_server import WebServer, create_server

if TYPE_CHECKING:
    from edge_app.context import AppContext
    from edge_app.settings import Settings
    from edge_app.watch.service import WatchService

log = logging.getLogger("edge_app.appliance.daemon")

JobHandler = Callable[[threading.Event, Mapping[str, Any]], Any]
_STOP_GRACE_S = 120.0
START_ENRICH = ("tags", "ocr")  # queued at start, after the first rescan


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line on stdout: journald keeps it, tools can parse it."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "thread": record.threadName,
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, human: bool = False) -> None:
    """Structured logs to stdout (systemd captures stdout into the journal); ``human``:
    readable lines on stderr for someone watching a terminal."""
    handler = logging.StreamHandler(sys.stderr if human else sys.stdout)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        if human
        else JsonLogFormatter()
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


@dataclass
class Job:
    """One queued unit of background work."""

    id: int
    kind: str
    params: dict[str, Any]
    state: str = "queued"  # queued | running | done | failed | cancelled
    error: str | None = None
    submitted_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "error": self.error,
            "submitted_at": self.submitted_at,
            "finished_at": self.finished_at,
        }


class JobQueue:
    """FIFO of background jobs run by one worker thread (`run_worker`).

    A job of a kind already waiting is not queued twice (pressing "re-index" five times
    means one re-index). `close()` refuses new jobs and cancels the waiting ones; the
    running one sees ``stop_event`` and checkpoints.
    """

    def __init__(self, handlers: Mapping[str, JobHandler], stop_event: threading.Event) -> None:
        self._handlers = dict(handlers)
        self.stop_event = stop_event
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._ids = count(1)
        self._pending: list[Job] = []
        self._current: Job | None = None
        self._history: list[Job] = []
        self._closed = False

    def submit(self, kind: str, **params: Any) -> dict[str, Any]:
        """Queue a job; raises `RuntimeError` after shutdown began, `ValueError` if unknown."""
        if kind not in self._handlers:
            raise ValueError(f"unknown job kind {kind!r}; known: {sorted(self._handlers)}")
        with self._lock:
            if self._closed:
                raise RuntimeError("the daemon is shutting down and accepts no new jobs")
            for job in self._pending:
                if job.kind == kind and job.params == params:
                    return job.to_json()
            job = Job(id=next(self._ids), kind=kind, params=dict(params))
            self._pending.append(job)
        self._queue.put(job)
        log.info("event=job_queued id=%d kind=%s", job.id, kind)
        return job.to_json()

    def snapshot(self) -> dict[str, Any]:
        """Running, waiting and the last finished jobs (for /api/status)."""
        with self._lock:
            return {
                "accepting": not self._closed,
                "current": self._current.to_json() if self._current else None,
                "queued": [j.to_json() for j in self._pending],
                "recent": [j.to_json() for j in self._history[-10:]],
            }

    def close(self) -> None:
        """Stop accepting jobs, drop the waiting ones, wake the worker."""
        with self._lock:
            self._closed = True
            for job in self._pending:
                job.state = "cancelled"
            self._pending.clear()
        self._queue.put(None)

    def run_worker(self) -> None:
        """Worker thread body: run jobs until `close()`."""
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                if job.state == "cancelled":
                    continue
                self._pending.remove(job)
                self._current, job.state = job, "running"
            self._run(job)

    def _run(self, job: Job) -> None:
        """Run one job; a failure is logged with its traceback and kept in the job."""
        log.info("event=job_started id=%d kind=%s", job.id, job.kind)
        try:
            self._handlers[job.kind](self.stop_event, job.params)
            job.state = "done"
        except Exception as exc:  # the worker must survive a failed job; it is recorded
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("event=job_failed id=%d kind=%s", job.id, job.kind)
        job.finished_at = time.time()
        with self._lock:
            self._current = None
            self._history.append(job)
            del self._history[:-50]
        heap.trim()  # a rescan or an import leaves its buffers free in the heap
        log.info("event=job_finished id=%d kind=%s state=%s", job.id, job.kind, job.state)


def _status_line(ctx: AppContext, jobs: JobQueue) -> str:
    """One-line STATUS= text for `systemctl status`."""
    snap = ctx.progress.snapshot()
    current = jobs.snapshot()["current"]
    job = f"job={current['kind']}" if current else "idle"
    return f"{snap['state']} {snap['done']}/{snap['total']} photos, {job}"


def _watchdog_loop(
    notifier: Notifier,
    ctx: AppContext,
    jobs: JobQueue,
    worker: threading.Thread,
    done: threading.Event,
) -> None:
    """Ping the watchdog at half its timeout while the job worker is alive."""
    interval = notifier.watchdog_interval_s or 5.0
    while not done.wait(interval):
        if notifier.watchdog_interval_s and worker.is_alive():
            notifier.notify("WATCHDOG=1")
        notifier.notify(f"STATUS={_status_line(ctx, jobs)}")
        release_idle_image_tower(ctx)


def job_handlers(
    ctx: AppContext, watch: WatchService, submit: Callable[[str], object]
) -> dict[str, JobHandler]:
    """Every job the daemon runs. Embeddings first (search works at once), then tags, then
    text (OCR): after a re-index, and after any watcher job that embedded photos."""
    from edge_app.enrich.face_job import faces_handler
    from edge_app.enrich.ocr_job import ocr_handler, then_ocr
    from edge_app.tags.jobs import index_then_tag_handler, tags_handler

    reindex = then_ocr(index_then_tag_handler(ctx), lambda: (submit("ocr"), submit("faces")))
    handlers = {"reindex": reindex, "tags": tags_handler(ctx), "ocr": ocr_handler(ctx)}
    handlers["faces"] = faces_handler(ctx)
    for kind, handler in watch.handlers().items():
        handlers[kind] = _then_enrich(handler, submit)
    return handlers


def _then_enrich(handler: JobHandler, submit: Callable[[str], object]) -> JobHandler:
    """Queue tags and OCR after ``handler`` when its report says photos were embedded."""

    def run(stop: threading.Event, params: Mapping[str, Any]) -> Any:
        result = handler(stop, params)
        if not stop.is_set() and getattr(result, "encoded", 0) + getattr(result, "reused", 0):
            submit("tags")  # the queue drops a duplicate of a job still waiting
            submit("ocr")
            submit("faces")
        return result

    return run


def release_idle_image_tower(ctx: AppContext) -> bool:
    """Free the image tower after ``image_model_idle_s`` unused (the next use reloads it)."""
    limit = ctx.settings.image_model_idle_s
    runner = ctx.encoder.image_runner
    released = bool(limit) and runner.loaded and runner.idle_s >= limit and runner.release()
    if released:
        heap.trim()
    return released


class _ShutdownRequested(SystemExit):
    """Raised by the signal handler; the server's run loop stops on SystemExit."""


def _install_signal_handlers(requested: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        if requested.is_set():
            return  # a second signal during shutdown: keep shutting down cleanly
        requested.set()
        log.info("event=signal_received signal=%s", signal.Signals(signum).name)
        raise _ShutdownRequested(0)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _log_setup_token(settings: Settings) -> None:
    """First run: the admin needs the setup token to choose a password (see webui.auth)."""
    from webui.passwords import PasswordStore

    token = PasswordStore(settings.data_dir).setup_token()
    if token is not None:
        log.warning(
            "event=setup_required setup_token=%s file=%s hint=%s",
            token,
            settings.data_dir / "setup_token",
            "open the web UI and enter this token to set the admin password",
        )


def _shutdown(ctx: AppContext, jobs: JobQueue, worker: threading.Thread) -> None:
    """Stop jobs, let the indexer checkpoint, save the index, close the context."""
    jobs.close()
    jobs.stop_event.set()
    if worker.ident is not None:  # not started when the signal came first
        worker.join(timeout=_STOP_GRACE_S)
        if worker.is_alive():
            log.error("event=worker_did_not_stop timeout_s=%s", _STOP_GRACE_S)
    ctx.close()
    log.info("event=stopped")


def _start_work(
    ctx: AppContext,
    jobs: JobQueue,
    worker: threading.Thread,
    watch: WatchService,
    notifier: Notifier,
    done: threading.Event,
) -> None:
    """The job worker with the start-up jobs, the root watcher and the watchdog pings."""
    worker.start()
    jobs.submit("rescan")  # start-up scan of every root; files still being written wait
    for kind in START_ENRICH:  # whatever a CLI run (or a stop) left untagged or unread
        jobs.submit(kind)
    watch.start(jobs.submit)
    threading.Thread(
        target=_watchdog_loop,
        args=(notifier, ctx, jobs, worker, done),
        name="edge-watchdog",
        daemon=True,
    ).start()


def _announce(
    settings: Settings,
    server: WebServer,
    notifier: Notifier,
    on_ready: Callable[[int], None] | None,
) -> None:
    """Log (and show) where the daemon listens, and tell systemd it is ready."""
    _log_setup_token(settings)
    log.info(
        "event=listening url=%s/ http_redirect_port=%s",
        server.url(settings.host),
        server.redirect_port,
    )
    if on_ready is not None:
        on_ready(server.effective_port)
    notifier.notify("READY=1")
    notifier.notify(f"STATUS=serving on port {server.effective_port}")


def serve(
    settings: Settings,
    on_ready: Callable[[int], None] | None = None,
    human_logs: bool = False,
) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the process exit code (0 = clean).

    ``on_ready(port)`` runs once the socket listens (the CLI's start-up banner).
    """
    heap.configure()  # before the first thread: see edge_app.appliance.heap
    heap.skip_pandas()  # before sqlite-utils is imported (by edge_app.context)
    from edge_app.context import AppContext
    from edge_app.watch.service import WatchService
    from webui.app import create_app
    from webui.state import attach_jobs

    configure_logging(settings.log_level, human=human_logs)
    requested = threading.Event()
    _install_signal_handlers(requested)
    settings.ensure_dirs()
    ctx = AppContext.open(settings)
    app = create_app(settings, ctx)
    watch = WatchService(ctx)
    jobs = JobQueue(job_handlers(ctx, watch, lambda kind: jobs.submit(kind)), threading.Event())
    attach_jobs(app, jobs)
    app.extensions["edge_watch"] = watch  # roots status on the Library page
    # `systemctl reload` (sent by the USB import unit after a copy) = index what is new.
    signal.signal(signal.SIGHUP, lambda signum, frame: jobs.submit("reindex"))
    worker = threading.Thread(target=jobs.run_worker, name="edge-jobs", daemon=True)
    notifier, done = Notifier(), threading.Event()
    server: WebServer | None = None
    try:  # from the first thread on: a signal at any moment still shuts everything down
        server = create_server(app, settings)
        _start_work(ctx, jobs, worker, watch, notifier, done)
        _announce(settings, server, notifier, on_ready)
        if not requested.is_set():
            server.run()
    except _ShutdownRequested:
        pass  # the signal arrived outside the server's own loop; shut down the same way
    finally:
        notifier.notify("STOPPING=1")
        done.set()
        if server is not None:
            server.close()  # its worker threads would keep the process alive
        watch.close()
        _shutdown(ctx, jobs, worker)
    return 0


if __name__ == "__main__":  # `python -m edge_app.appliance.daemon`: same as `edge-app serve`
    from edge_app.settings import load_settings

    raise SystemExit(serve(load_settings()))
