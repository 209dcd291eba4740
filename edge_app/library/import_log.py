"""Import-session SQL of the library: resumable USB/folder imports.

Why persisted per file: an unplugged stick or a power cut must not lose track of what
was already copied and verified; a resumed session skips those files, and the session
counters are moved in the same transaction as each file's outcome so they never drift.
"""

from __future__ import annotations

import logging

from edge_app.errors import LibraryError, NotFoundError
from edge_app.library import records
from edge_app.library.connection import SqliteStore
from edge_app.library.records import ImportFile, ImportSession, utc_now

log = logging.getLogger(__name__)


class ImportLog(SqliteStore):
    """Import sessions and their files (part of `Library`; all statements are here)."""

    def start_import(self, source_key: str, label: str | None, dest_dir: str) -> ImportSession:
        """Open a new import session in state 'running'."""
        with self.transaction():
            cur = self._exec(
                "INSERT INTO import_sessions (source_key, label, dest_dir, started_at) VALUES (?, ?, ?, ?) RETURNING id",
                [source_key, label, dest_dir, utc_now()],
            )
            session_id = int(cur.fetchone()[0])
        return self.get_import(session_id)

    def resumable_import(self, source_key: str) -> ImportSession | None:
        """The latest unfinished (interrupted/running/failed) session of this source, if any."""
        rows = self._rows(
            "SELECT * FROM import_sessions WHERE source_key = ? AND state != 'done' ORDER BY id DESC LIMIT 1",
            [source_key],
        )
        return ImportSession(**rows[0]) if rows else None

    def get_import(self, session_id: int) -> ImportSession:
        rows = self._rows("SELECT * FROM import_sessions WHERE id = ?", [session_id])
        if not rows:
            raise NotFoundError(f"import session {session_id} does not exist")
        return ImportSession(**rows[0])

    def list_imports(self, limit: int = 20) -> list[ImportSession]:
        rows = self._rows("SELECT * FROM import_sessions ORDER BY id DESC LIMIT ?", [limit])
        return [ImportSession(**r) for r in rows]

    def set_import_found(self, session_id: int, found: int) -> None:
        with self.transaction():
            self._exec("UPDATE import_sessions SET found = ? WHERE id = ?", [found, session_id])

    def resume_import(self, session_id: int) -> ImportSession:
        """Put an unfinished session back to 'running' (its verified files are kept)."""
        with self.transaction():
            self._exec(
                "UPDATE import_sessions SET state = 'running', reason = NULL, finished_at = NULL WHERE id = ?",
                [session_id],
            )
        return self.get_import(session_id)

    def record_import_file(self, item: ImportFile) -> None:
        """Record one file's outcome and move the session counters in the same transaction.

        Re-recording a file (resume) first takes back what its previous state counted.
        """
        if item.state not in records.IMPORT_FILE_STATES:
            raise LibraryError(
                f"import file state must be one of {records.IMPORT_FILE_STATES}, got {item.state!r}"
            )
        with self.transaction():
            old = self._rows(
                "SELECT state, size FROM import_files WHERE session_id = ? AND source_rel_path = ?",
                [item.session_id, item.source_rel_path],
            )
            if old:
                self._count_import_file(item.session_id, old[0]["state"], old[0]["size"], -1)
            self._exec(
                "INSERT OR REPLACE INTO import_files (session_id, source_rel_path, sha256, size, "
                "dest_rel_path, state, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    item.session_id,
                    item.source_rel_path,
                    item.sha256,
                    item.size,
                    item.dest_rel_path,
                    item.state,
                    item.reason,
                ],
            )
            self._count_import_file(item.session_id, item.state, item.size, 1)

    def _count_import_file(self, session_id: int, state: str, size: int | None, sign: int) -> None:
        column = {"verified": "copied", "failed": "failed", "skipped": "skipped_duplicate"}[state]
        nbytes = (size or 0) * sign if state == "verified" else 0
        self._exec(
            f"UPDATE import_sessions SET {column} = {column} + ?, bytes_copied = bytes_copied + ? WHERE id = ?",
            [sign, nbytes, session_id],
        )

    def import_files(self, session_id: int) -> dict[str, ImportFile]:
        """source_rel_path -> outcome, so a resumed import skips verified files."""
        rows = self._rows("SELECT * FROM import_files WHERE session_id = ?", [session_id])
        return {r["source_rel_path"]: ImportFile(**r) for r in rows}

    def finish_import(
        self, session_id: int, state: str, reason: str | None = None
    ) -> ImportSession:
        """Close a session as 'done', 'interrupted' or 'failed' (with a human reason)."""
        if state not in records.IMPORT_STATES or state == "running":
            raise LibraryError(
                f"finish_import state must be done/interrupted/failed, got {state!r}"
            )
        with self.transaction():
            cur = self._exec(
                "UPDATE import_sessions SET state = ?, reason = ?, finished_at = ? WHERE id = ?",
                [state, reason, utc_now(), session_id],
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"import session {session_id} does not exist")
        return self.get_import(session_id)

    def interrupt_running_imports(self, reason: str) -> int:
        """At start-up: sessions still 'running' were cut off by a crash or unplug."""
        with self.transaction():
            cur = self._exec(
                "UPDATE import_sessions SET state = 'interrupted', reason = ?, finished_at = ? WHERE state = 'running'",
                [reason, utc_now()],
            )
        if cur.rowcount:
            log.warning(
                "marked %d unfinished import session(s) interrupted: %s", cur.rowcount, reason
            )
        return int(cur.rowcount)

    def sha256_known(self, sha256: str) -> bool:
        """True if this content is already in the library (not in its trash) or was
        copied by an import."""
        rows = self._rows(
            "SELECT 1 FROM photos WHERE sha256 = :h AND trashed_at IS NULL UNION ALL "
            "SELECT 1 FROM import_files WHERE sha256 = :h AND state = 'verified' LIMIT 1",
            {"h": sha256},
        )
        return bool(rows)
