"""Pack-import SQL of the library: how far each shard of each pack has been imported.

Why a per-shard counter: the importer reads a shard in fixed batches and commits each
batch's photos, OCR lines and this counter in ONE transaction, so after ``kill -9`` the
next run skips exactly the committed rows: nothing lost, nothing added twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge_app.library.connection import SqliteStore
from edge_app.library.records import IN_CHUNK, utc_now


@dataclass(frozen=True)
class PackImport:
    """One pack's import so far (all its shards), for the Import page."""

    pack_id: str
    rows_done: int
    added: int
    duplicates: int
    updated_at: str


@dataclass(frozen=True)
class ShardProgress:
    rows_done: int = 0
    added: int = 0
    duplicates: int = 0


class PackLog(SqliteStore):
    """Progress of pack imports, and the content look-up that keeps packs from doubling."""

    def pack_progress(self, pack_id: str) -> dict[str, ShardProgress]:
        rows = self._rows(
            "SELECT shard, rows_done, added, duplicates FROM pack_imports WHERE pack_id = ?",
            [pack_id],
        )
        return {
            r["shard"]: ShardProgress(r["rows_done"], r["added"], r["duplicates"]) for r in rows
        }

    def list_pack_imports(self, limit: int = 20) -> list[PackImport]:
        """Packs imported or being imported, the latest first."""
        rows = self._rows(
            "SELECT pack_id, SUM(rows_done) AS rows_done, SUM(added) AS added, "
            "SUM(duplicates) AS duplicates, MAX(updated_at) AS updated_at FROM pack_imports "
            "GROUP BY pack_id ORDER BY MAX(updated_at) DESC LIMIT ?",
            [limit],
        )
        return [PackImport(**r) for r in rows]

    def set_pack_progress(self, pack_id: str, shard: str, progress: ShardProgress) -> None:
        """Call inside the batch's transaction (that is what makes resuming exact)."""
        with self.transaction():
            self._exec(
                "INSERT INTO pack_imports (pack_id, shard, rows_done, added, duplicates, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(pack_id, shard) DO UPDATE "
                "SET rows_done = excluded.rows_done, added = excluded.added, "
                "duplicates = excluded.duplicates, updated_at = excluded.updated_at",
                [pack_id, shard, progress.rows_done, progress.added, progress.duplicates,
                 utc_now()],
            )  # fmt: skip

    def paths_by_sha256(self, shas: Sequence[str]) -> dict[str, list[str]]:
        """sha256 -> library keys of indexed photos with that content (one query per 500)."""
        out: dict[str, list[str]] = {}
        for start in range(0, len(shas), IN_CHUNK):
            chunk = list(shas[start : start + IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            for r in self._rows(
                f"SELECT sha256, rel_path FROM photos WHERE status = 'indexed' "
                f"AND sha256 IN ({marks})",
                chunk,
            ):
                out.setdefault(r["sha256"], []).append(r["rel_path"])
        return out
