"""Browse SQL of the library: the timeline (home page), folder tree, cameras and GPS points.

Why a separate mixin: browsing without a query is a different read path from search
(ordered by date, not by vector score); keeping its statements here keeps `store.py`
small. The timeline date is the EXIF taken date, else the file's modification time, so
photos without EXIF still appear in order.
"""

from __future__ import annotations

from typing import Any

from edge_app.library.connection import SqliteStore
from edge_app.library.records import Photo, PhotoFilter, photo_from_row
from edge_app.library.trash_rows import VISIBLE_SQL

#: the date a photo sorts under: taken date, else file date (local ISO text, like taken_at)
SHOWN_AT_SQL = (
    "COALESCE(taken_at, strftime('%Y-%m-%dT%H:%M:%S', mtime_ns / 1000000000, 'unixepoch', "
    "'localtime'))"
)


class Browse(SqliteStore):
    """Timeline and filter-choice reads (part of `Library`)."""

    _TIMELINE_COLUMNS = (
        "id, rel_path, sha256, size, mtime_ns, width, height, taken_at, camera_make, "
        "camera_model, gps_lat, gps_lon, orientation, status, error_reason, bundle_id, "
        "thumb_path, indexed_at, added_at, embedding IS NOT NULL AS has_embedding, "
        "place_city, place_region, place_country"
    )

    def _filter_sql(self, flt: PhotoFilter) -> tuple[str, dict[str, Any]]:
        """The WHERE condition of a `PhotoFilter` (implemented by `Library`)."""
        raise NotImplementedError

    def timeline(
        self, flt: PhotoFilter | None = None, limit: int = 48, offset: int = 0
    ) -> list[tuple[Photo, str]]:
        """Indexed photos newest first, each with the ISO date it is shown under."""
        where, params = self._filter_sql(flt or PhotoFilter())
        sql = (
            f"SELECT {self._TIMELINE_COLUMNS}, {SHOWN_AT_SQL} AS shown_at FROM photos "
            f"WHERE status = 'indexed' AND {where} "
            "ORDER BY shown_at IS NULL, shown_at DESC, id DESC LIMIT :limit OFFSET :offset"
        )
        out = []
        for row in self._rows(sql, {**params, "limit": limit, "offset": offset}):
            shown = row.pop("shown_at") or ""
            out.append((photo_from_row(row), str(shown)))
        return out

    def folder_counts(self) -> dict[str, int]:
        """Indexed photos per folder ('' is the library root), folder -> count."""
        rows = self._rows(
            "SELECT rtrim(rel_path, replace(rel_path, '/', '')) AS folder, COUNT(*) AS n "
            f"FROM photos WHERE status = 'indexed' AND {VISIBLE_SQL} GROUP BY folder"
        )
        return {str(r["folder"]).rstrip("/"): int(r["n"]) for r in rows}

    def camera_rows(self) -> list[tuple[int, str | None, str | None]]:
        """(id, raw make, raw model) of indexed photos that have any camera EXIF."""
        rows = self._rows(
            "SELECT id, camera_make, camera_model FROM photos WHERE status = 'indexed' "
            f"AND {VISIBLE_SQL} AND (camera_make IS NOT NULL OR camera_model IS NOT NULL) ORDER BY id"
        )
        return [(int(r["id"]), r["camera_make"], r["camera_model"]) for r in rows]

    def place_rows(self) -> list[tuple[int, str, str, str]]:
        """(id, city, region, country) of shown photos whose place was stored at index time."""
        rows = self._rows(
            "SELECT id, place_city, place_region, place_country FROM photos "
            f"WHERE status = 'indexed' AND {VISIBLE_SQL} "
            "AND (place_city IS NOT NULL OR place_country IS NOT NULL) "
            "ORDER BY id"
        )
        return [
            (int(r["id"]), r["place_city"] or "", r["place_region"] or "", r["place_country"] or "")
            for r in rows
        ]
