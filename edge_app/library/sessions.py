"""Web-session SQL of the library: server-side logins that can be revoked.

Why in the library's SQLite and not in the signed cookie alone: a signed cookie cannot be
taken back, so logout, "sign out everywhere" and a password change could not end it.
The cookie now carries a random session token; only its SHA-256 is stored here, so a copy
of the database does not hand out working cookies. Each row also counts the bytes the
session uploaded today (the per-session daily upload cap, `webui.sessions`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from edge_app.library.connection import SqliteStore
from edge_app.library.records import utc_now

SESSION_ROLES = ("admin", "guest")


def token_hash(token: str) -> str:
    """What is stored for a session token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    """One row of ``web_sessions``."""

    id: int
    role: str
    created_at: str
    last_seen_at: str
    user_agent: str
    address: str
    upload_day: str | None
    upload_bytes: int

    def seen_before(self, seconds: float) -> bool:
        """Was the last recorded activity more than `seconds` ago?"""
        return self.last_seen_at < _ago(seconds)


_COLUMNS = "id, role, created_at, last_seen_at, user_agent, address, upload_day, upload_bytes"


def _session(row: dict[str, Any]) -> WebSession:
    return WebSession(**{k: row[k] for k in _COLUMNS.split(", ")})


def _ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="seconds")


class SessionLog(SqliteStore):
    """All SQL on ``web_sessions`` (mixed into `edge_app.library.store.Library`)."""

    def create_session(self, token: str, role: str, user_agent: str, address: str) -> WebSession:
        """Store a new session for `token`; returns its row."""
        now = utc_now()
        with self.transaction():
            row = self._exec(
                "INSERT INTO web_sessions (token_hash, role, created_at, last_seen_at, "
                "user_agent, address) VALUES (?, ?, ?, ?, ?, ?) RETURNING " + _COLUMNS,
                [token_hash(token), role, now, now, user_agent[:300], address[:100]],
            ).fetchone()
        return WebSession(*row)

    def find_session(self, token: str, max_age_s: float) -> WebSession | None:
        """The live session of `token`, or None (unknown, ended or older than `max_age_s`)."""
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM web_sessions WHERE token_hash = ? AND created_at >= ?",
            [token_hash(token), _ago(max_age_s)],
        )
        return _session(rows[0]) if rows else None

    def touch_session(self, session_id: int, min_interval_s: float) -> None:
        """Record activity, at most once per `min_interval_s` (no write per request)."""
        with self.transaction():
            self._exec(
                "UPDATE web_sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?",
                [utc_now(), session_id, _ago(min_interval_s)],
            )

    def add_upload_bytes(self, session_id: int, day: str, nbytes: int, limit: int) -> bool:
        """Count `nbytes` uploaded on `day` unless that would pass `limit` (checked and
        counted in one statement, so parallel uploads cannot both slip under it); a new
        day starts the count again. False: refused, nothing counted."""
        total = "CASE WHEN upload_day = :day THEN upload_bytes + :n ELSE :n END"
        with self.transaction():
            cur = self._exec(
                f"UPDATE web_sessions SET upload_bytes = {total}, upload_day = :day "
                f"WHERE id = :id AND {total} <= :limit",
                {"day": day, "n": nbytes, "id": session_id, "limit": limit},
            )
        return cur.rowcount > 0

    def list_sessions(self) -> list[WebSession]:
        """Every stored session, most recently seen first."""
        rows = self._rows(f"SELECT {_COLUMNS} FROM web_sessions ORDER BY last_seen_at DESC, id")
        return [_session(row) for row in rows]

    def end_session(self, session_id: int) -> bool:
        """Delete one session; False when it did not exist."""
        with self.transaction():
            cur = self._exec("DELETE FROM web_sessions WHERE id = ?", [session_id])
        return cur.rowcount > 0

    def end_sessions(self, keep_id: int | None = None, role: str | None = None) -> int:
        """Delete every session (of `role`, when given) except `keep_id`; returns how many."""
        sql = "DELETE FROM web_sessions WHERE id != ?"
        params: list[Any] = [keep_id if keep_id else -1]
        if role is not None:
            sql, params = sql + " AND role = ?", [*params, role]
        with self.transaction():
            return self._exec(sql, params).rowcount

    def prune_sessions(self, max_age_s: float) -> int:
        """Forget sessions older than `max_age_s` (their cookies have expired anyway)."""
        with self.transaction():
            cur = self._exec("DELETE FROM web_sessions WHERE created_at < ?", [_ago(max_age_s)])
        return cur.rowcount
