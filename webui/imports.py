"""The web app's view of USB imports: the one module calling the import back end.

Why apart from `webui.services`: imports have their own back end (session rows written
by the import unit, request files for ``import_mode = "ask"``), and keeping it here
keeps both files small. Sessions are read through the request's read-only reader
connection; approvals go through `usb_commands.answer_import`, the only writer of
answers, so the import unit sees exactly what the CLI would write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edge_app.errors import NotFoundError, QueryError
from edge_app.library.pack_log import PackImport
from edge_app.library.store import Library
from edge_app.usb.commands import PendingImport, answer_import, pending_imports
from edge_app.usb.session import ImportProgress

if TYPE_CHECKING:
    from edge_app.library.store import ImportSession
    from edge_app.settings import Settings
    from webui.state import WebState

RECENT_LIMIT = 20


@dataclass(frozen=True)
class ImportsOverview:
    """What the import page and ``GET /api/imports`` show."""

    pending: list[PendingImport]
    sessions: list[dict[str, Any]]
    packs: list[PackImport] = field(default_factory=list)  # page only (docs/CLUSTER.md)

    @property
    def active(self) -> bool:
        """Something to watch: a copy runs or a stick waits (the page polls fast then)."""
        return bool(self.pending) or any(s["state"] == "running" for s in self.sessions)

    def to_json(self) -> dict[str, Any]:
        return {
            "pending": [pending_json(p) for p in self.pending],
            "sessions": self.sessions,
            "active": self.active,
        }


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KB' (decimal units, as sticks are sold)."""
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("KB", "MB"):
        n /= 1000
        if n < 1000:
            return f"{n:.1f} {unit}"
    return f"{n / 1000:.1f} GB"


def _running_rate(row_started_at: str | None, nbytes: int) -> float:
    """Bytes/s since the session started: the DB rows carry no live rate."""
    if not row_started_at:
        return 0.0
    try:
        started = datetime.fromisoformat(row_started_at)
    except ValueError:
        return 0.0
    elapsed = (datetime.now(UTC) - started).total_seconds()
    return nbytes / elapsed if elapsed > 0 else 0.0


def session_json(row: ImportSession) -> dict[str, Any]:
    """API shape of one session; ``safe_to_remove`` is `ImportProgress`'s rule, spelled out."""
    p = ImportProgress.from_row(row)
    rate = p.rate_bytes_per_s or (
        _running_rate(row.started_at, p.bytes_copied) if p.state == "running" else 0.0
    )
    return {
        "id": p.session_id,
        "label": p.label,
        "source_key": p.source_key,
        "dest_dir": p.dest_dir,
        "state": p.state,
        "phase": p.phase,
        "reason": p.reason,
        "found": p.found,
        "copied": p.copied,
        "skipped_duplicate": p.skipped_duplicate,
        "failed": p.failed,
        "bytes_copied": p.bytes_copied,
        "bytes_display": human_bytes(p.bytes_copied),
        "rate_bytes_per_s": round(rate, 1),
        "rate_display": f"{human_bytes(rate)}/s" if rate else "–",
        "safe_to_remove": p.safe_to_remove,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
    }


def pending_json(p: PendingImport) -> dict[str, Any]:
    """A waiting stick; the mount point stays server-side (no route takes a path)."""
    return {"name": p.name, "label": p.label, "device": p.device}


@contextmanager
def _reader(state: WebState) -> Iterator[Library | None]:
    """The context's reader; without an opened context a short-lived read-only one.

    Why not open the context: that loads the CLIP engine (seconds, or fails without a
    bundle), and "safe to remove the stick" must show even then. None = no library yet.
    """
    ctx = state.contexts.opened
    if ctx is not None:
        yield ctx.reader
        return
    if not state.settings.db_path.is_file():
        yield None
        return
    reader = Library.open_reader(state.settings.db_path)
    try:
        yield reader
    finally:
        reader.close()


def overview(state: WebState, limit: int = RECENT_LIMIT) -> ImportsOverview:
    """Pending sticks and the newest sessions (newest first), as `recent_imports` lists them."""
    with _reader(state) as reader:
        rows = reader.list_imports(limit) if reader is not None else []
        packs = reader.list_pack_imports(limit) if reader is not None else []
    sessions = [session_json(row) for row in rows]
    return ImportsOverview(pending_imports(state.settings), sessions, packs)


def session(state: WebState, session_id: int) -> dict[str, Any]:
    """One session, as `session_progress` reads it; `NotFoundError` (-> 404) if unknown."""
    with _reader(state) as reader:
        if reader is None:
            raise NotFoundError(f"import session {session_id} does not exist")
        return session_json(reader.get_import(session_id))


def parse_approve(body: object) -> bool:
    """``{"approve": true|false}``; anything else is a 400 naming the expected shape."""
    approve = body.get("approve") if isinstance(body, dict) else None
    if not isinstance(approve, bool):
        raise QueryError('body must be JSON {"approve": true} or {"approve": false}')
    return approve


def answer(settings: Settings, name: str, approve: bool) -> dict[str, Any]:
    """Approve or decline a waiting stick; `NotFoundError` (-> 404) if it is not waiting."""
    answer_import(settings, name, approve)
    return {"name": name, "approved": approve}
