"""Trash SQL of the library: a trashed photo keeps its row until the trash is emptied.

Why keep the row: a photo moved to the trash must leave search and the timeline at once,
and a restore must give it back its id (links, "more like this" URLs), its tags, its
recognised text and its place. So the row stays, keyed by where the file now lies
(``.trash/<token>/<name>``, a folder the scanner never enters, so the scan neither
deletes it nor mistakes it for a new file) and marked ``trashed_at``; `VISIBLE_SQL`
keeps it out of every listing, filter and the vector index's embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge_app.library.connection import SqliteStore
from edge_app.library.records import id_chunks, utc_now
from edge_app.library.roots import OFFLINE_SQL

#: SQL condition (on ``photos``) true for photos that are shown: not trashed, root online.
VISIBLE_SQL = f"trashed_at IS NULL AND {OFFLINE_SQL}"
#: The ids of the shown photos, for counts over tables that refer to photos (tags, faces):
#: a facet never counts a photo its listing would not show.
VISIBLE_IDS_SQL = f"SELECT id FROM photos WHERE {VISIBLE_SQL}"
#: The ids of the photos in the library (not trashed), shown or on an unplugged root: for
#: the library's own totals (status page), which count an offline root's photos too.
LIVE_IDS_SQL = "SELECT id FROM photos WHERE trashed_at IS NULL"


class TrashRows(SqliteStore):
    """Mark, restore and forget trashed photos (part of `Library`)."""

    def trash_photo(self, photo_id: int, trash_key: str) -> bool:
        """The photo's file now lies at ``trash_key``; False if it was not a live photo."""
        with self.transaction():
            cur = self._exec(
                "UPDATE photos SET rel_path = ?, trashed_at = ? "
                "WHERE id = ? AND trashed_at IS NULL",
                [trash_key, utc_now(), photo_id],
            )
            self._bump_generation()  # its vector leaves the index
        return cur.rowcount > 0

    def restore_photo(self, photo_id: int, trash_key: str, rel_path: str) -> bool:
        """Back at ``rel_path`` with its id; False if no row was trashed as ``trash_key``
        under that id (an item trashed by an older release: the next index run adds the
        file as a new photo)."""
        with self.transaction():
            cur = self._exec(
                "UPDATE photos SET rel_path = ?, trashed_at = NULL "
                "WHERE id = ? AND rel_path = ? AND trashed_at IS NOT NULL",
                [rel_path, photo_id, trash_key],
            )
            self._bump_generation()
        return cur.rowcount > 0

    def in_library(self, sha256: str) -> bool:
        """A photo in the library (not trashed) holds these bytes: a new copy is a duplicate."""
        rows = self._rows(
            "SELECT 1 FROM photos WHERE sha256 = ? AND trashed_at IS NULL LIMIT 1", [sha256]
        )
        return bool(rows)

    def trashed_with(self, sha256: str) -> list[tuple[int, str]]:
        """(id, trash key) of the trashed photos holding these bytes, last trashed first:
        what a re-upload or re-import of them brings back."""
        rows = self._rows(
            "SELECT id, rel_path FROM photos WHERE sha256 = ? AND trashed_at IS NOT NULL "
            "ORDER BY trashed_at DESC, id DESC",
            [sha256],
        )
        return [(int(r["id"]), str(r["rel_path"])) for r in rows]

    def forget_trashed(self, ids: Sequence[int]) -> list[str]:
        """Delete the rows of emptied trash items; returns their sha256s (thumbnails)."""
        shas: list[str] = []
        with self.transaction():
            for chunk in id_chunks(list(ids)):
                marks = ",".join("?" * len(chunk))
                rows = self._exec(
                    f"DELETE FROM photos WHERE trashed_at IS NOT NULL AND id IN ({marks}) "
                    "RETURNING sha256",
                    chunk,
                ).fetchall()
                shas += [str(r[0]) for r in rows if r[0]]
            self._bump_generation()
        return shas
