"""Command entry points for imports: what ``edge-app import`` calls.

Why apart from `edge_app.usb.session`: this is process-level glue (signals, opening the
library and the indexer, exit codes) that the session logic and its tests do not need.
No printing here: `edge_app.cli.main` prints and maps domain errors to exit codes.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from edge_app.enrich.passes import EnrichChoice, EnrichReport
from edge_app.errors import EdgeError, ImportSessionError, NotFoundError
from edge_app.library.store import Library
from edge_app.settings import Settings
from edge_app.usb.detect import (
    MEDIA_ROOT,
    ImportRequest,
    ensure_read_only_mount,
    request_for_device_node,
    request_for_folder,
)
from edge_app.usb.session import ImportProgress, ImportSession, IndexFn

if TYPE_CHECKING:
    from edge_app.packs.importer import PackReport

log = logging.getLogger(__name__)

__all__ = [
    "EXIT_DONE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "ImportReport",
    "PendingImport",
    "answer_import",
    "await_approval",
    "context_indexer",
    "import_command",
    "pending_imports",
    "request_for",
]

PENDING_DIR = "import-requests"  # under data_dir: written by the import unit, read by the web UI


EXIT_DONE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 75  # 75 = EX_TEMPFAIL: plug in again


def import_command(
    settings: Settings,
    path: Path | None = None,
    *,
    device: str | None = None,
    mount_point: Path | None = None,
    index: bool = True,
    on_done: Callable[[ImportReport], None] | None = None,
    enrich: EnrichChoice | None = None,
    on_pack_done: Callable[[PackReport], None] | None = None,
) -> int:
    """``edge-app import PATH`` or ``edge-app import --device /dev/sdb1 --mount-point DIR``.

    A source holding a library pack (``pack.json`` at its top or one folder down) is
    imported as a pack (`edge_app.packs.stick`): nothing copied as new, nothing encoded.

    Returns 0 when done (even with some unreadable files: see the session's reason),
    75 when interrupted (resume by plugging the stick in again), 1 when failed. Domain
    errors (`ImportSessionError`, `LibraryError`) propagate for the CLI to print.
    ``on_done`` receives what was done (the CLI prints it; the udev unit passes nothing).
    Indexed photos are then tagged and read like the daemon does (`enrich` picks passes).
    """
    request = request_for(path, device, mount_point)
    from edge_app.packs.stick import (  # lazy: Ray-free, but opens pyarrow
        find_pack,
        import_pack_from,
    )

    if (pack := find_pack(request.mount_point)) is not None:
        asking = device is not None and settings.import_mode == "ask"
        if asking and not await_approval(settings, request, lambda: False):
            return EXIT_DONE
        done = import_pack_from(settings, request, pack, on_pack_done)
        return EXIT_INTERRUPTED if done.stopped else EXIT_DONE
    indexer = ContextIndexer(settings, enrich or EnrichChoice()) if index else None
    library = Library(settings.db_path)
    try:
        session = ImportSession(library, settings, request, index=indexer)
        with _cancel_on_sigterm(session, indexer.stop if indexer else None):
            asking = device is not None and settings.import_mode == "ask"
            if asking and not await_approval(settings, request, session.cancelled):
                return EXIT_DONE  # declined in the web UI, or the stick was pulled first
            final = session.run()
        if on_done is not None:
            report = import_report(library, request, final, settings.library_dir)
            enriched = indexer.enrichment if indexer else None
            counts = library.ocr_counts() if enriched else None
            on_done(replace(report, enrichment=enriched, ocr_counts=counts))
    finally:
        library.close()
    codes = {"done": EXIT_DONE, "interrupted": EXIT_INTERRUPTED}
    return codes.get(final.state, EXIT_FAILED)


@dataclass(frozen=True)
class ImportReport:
    """The outcome of one import for a person: counts, where the copies went, and every
    file that was not copied with the reason (duplicates, failures, non-photos)."""

    progress: ImportProgress
    dest_dir: Path | None
    not_copied: list[tuple[str, str]]
    not_indexed: list[tuple[str, str]] = field(default_factory=list)
    enrichment: EnrichReport | None = None  # tags and text of the imported photos
    ocr_counts: dict[str, int] | None = None


def import_report(
    library: Library, request: ImportRequest, final: ImportProgress, library_dir: Path
) -> ImportReport:
    """Collect the report from the session's file log plus what the scanner passed over."""
    from edge_app.indexing.scanner import scan

    files = library.import_files(final.session_id) if final.session_id is not None else {}
    not_copied = [
        (f.source_rel_path, f.reason or f.state) for f in files.values() if f.state != "verified"
    ]
    try:
        not_copied += [(s.path, s.reason) for s in scan(request.mount_point).skipped]
    except EdgeError as exc:  # the source went away after the copy: the counts still stand
        log.info("event=import_report_rescan_failed error=%r", exc)
    dest = library_dir / final.dest_dir if final.dest_dir else None
    prefix = f"{final.dest_dir}/" if final.dest_dir else None
    not_indexed = [
        (p.rel_path, p.error_reason or "not indexable")
        for p in library.list_errors(limit=10_000)
        if prefix is not None and p.rel_path.startswith(prefix)
    ]
    return ImportReport(final, dest, sorted(not_copied), not_indexed)


def request_for(path: Path | None, device: str | None, mount_point: Path | None) -> ImportRequest:
    """A folder request, or a device request whose mount must be read-only."""
    if device is None:
        if path is None:
            raise ImportSessionError("give a folder to import, or --device with --mount-point")
        return request_for_folder(path)
    mount = mount_point or MEDIA_ROOT / Path(device).name
    ensure_read_only_mount(mount)
    return request_for_device_node(device, mount)


def context_indexer(settings: Settings) -> IndexFn:
    """Index imported folders with the daemon's normal pipeline (opened only when needed)."""
    return ContextIndexer(settings, None)


@dataclass
class ContextIndexer:
    """An `IndexFn` that indexes, then enriches as `choice` says (None: index only).

    What enrichment did is kept in `enrichment`; `stop` ends it between photos."""

    settings: Settings
    choice: EnrichChoice | None
    enrichment: EnrichReport | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def __call__(self, paths: Sequence[Path]) -> object:
        from edge_app.context import AppContext  # lazy: loads the CLIP encoder
        from edge_app.enrich.passes import enrich

        ctx = AppContext.open(self.settings)
        try:
            report = ctx.indexer.run(paths)
            if self.choice is not None and not self.stop.is_set():
                self.enrichment = enrich(ctx, self.choice, stop=self.stop)
            return report
        finally:
            ctx.close()


@contextmanager
def _cancel_on_sigterm(
    session: ImportSession, stop: threading.Event | None = None
) -> Iterator[None]:
    """systemd stops the unit when the stick disappears (BindsTo=): end as 'interrupted'
    (and stop tagging / reading text between photos; the daemon finishes them)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def cancel(signum: int, frame: object) -> None:
        session.cancel()
        if stop is not None:
            stop.set()

    previous = signal.signal(signal.SIGTERM, cancel)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ------------------------------------------------------------- import_mode = "ask"
@dataclass(frozen=True)
class PendingImport:
    """A plugged-in stick waiting for a yes/no in the web UI (``import_mode = "ask"``)."""

    name: str  # the kernel name ("sdb1"): what `answer_import` takes
    source_key: str
    label: str
    device: str | None
    mount_point: str


def pending_imports(settings: Settings) -> list[PendingImport]:
    """Sticks waiting for an answer; the web UI lists these."""
    folder = settings.data_dir / PENDING_DIR
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json")):
        try:  # the import unit removes a file once answered or pulled: gone is not an error
            found.append(PendingImport(**json.loads(path.read_text(encoding="utf-8"))))
        except FileNotFoundError:
            continue
    return found


def answer_import(settings: Settings, name: str, approve: bool) -> None:
    """Say yes (copy it) or no (leave it alone) to a pending stick."""
    folder = settings.data_dir / PENDING_DIR
    if Path(name).name != name or not (folder / f"{name}.json").is_file():
        raise NotFoundError(f"no USB stick {name!r} is waiting for an answer (was it removed?)")
    (folder / f"{name}.{'approved' if approve else 'declined'}").touch()


def await_approval(
    settings: Settings,
    request: ImportRequest,
    cancelled: Callable[[], bool],
    poll_s: float = 1.0,
) -> bool:
    """Publish ``request`` as pending and wait for `answer_import` (or a pulled stick).

    Why files and not a socket: the import unit and the daemon are separate, sandboxed
    processes of the same user that share only ``data_dir``; a file survives either of
    them restarting, and the unit's ``PrivateNetwork=yes`` stays intact.
    """
    folder = settings.data_dir / PENDING_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(request.device or request.mount_point).name
    base = folder / name
    pending = PendingImport(
        name, request.source_key, request.label, request.device, str(request.mount_point)
    )
    # Written under a temporary name and renamed, so a reader never sees half a file.
    partial = base.with_suffix(".json.part")
    partial.write_text(json.dumps(asdict(pending)), encoding="utf-8")
    partial.replace(base.with_suffix(".json"))
    log.info("import of %s (%s) waits for approval in the web UI", name, request.label)
    try:
        while not cancelled():
            if base.with_suffix(".approved").exists():
                return True
            if base.with_suffix(".declined").exists():
                return False
            time.sleep(poll_s)
        return False
    finally:
        for suffix in (".json", ".approved", ".declined"):
            base.with_suffix(suffix).unlink(missing_ok=True)
