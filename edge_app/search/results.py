"""What a search returns (`SearchResult`, `SearchPage`), paging bounds, and the `Searcher`
protocol: shared by `service` and `text_search`, which would otherwise import each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from edge_app.errors import QueryError
from edge_app.library.store import Library, Photo, PhotoFilter
from edge_app.search.query import ParsedQuery

MAX_LIMIT = 500
MAX_OFFSET = 100_000


@dataclass(frozen=True)
class SearchResult:
    """One hit with the metadata the web UI shows next to the thumbnail."""

    photo_id: int
    score: float
    rel_path: str
    folder: str
    width: int | None
    height: int | None
    taken_at: datetime | None
    camera: str | None
    gps_lat: float | None
    gps_lon: float | None
    thumb_path: str | None
    sha256: str | None
    text_match: str | None = None  # the recognised line that matched (OCR), if any

    @classmethod
    def from_photo(cls, photo: Photo, score: float) -> SearchResult:
        return cls(
            photo_id=photo.id, score=score, rel_path=photo.rel_path, folder=photo.folder,
            width=photo.width, height=photo.height, taken_at=photo.taken_at,
            camera=photo.camera, gps_lat=photo.gps_lat, gps_lon=photo.gps_lon,
            thumb_path=photo.thumb_path, sha256=photo.sha256,
        )  # fmt: skip


@dataclass(frozen=True)
class SearchPage:
    """One page of ranked results."""

    results: tuple[SearchResult, ...]
    total: int
    offset: int
    limit: int
    has_more: bool

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.has_more else None

    def __iter__(self) -> Iterator[SearchResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


class Searcher(Protocol):
    """What `text_search` needs from `SearchService`."""

    library: Library

    def query_vector(self, parsed: ParsedQuery) -> np.ndarray: ...

    def search_vector(
        self, vector: np.ndarray, photo_filter: PhotoFilter | None = None, *, limit: int = 50,
        offset: int = 0, min_score: float | None = None, exclude: Sequence[int] = (),
    ) -> SearchPage: ...  # fmt: skip


def check_paging(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise QueryError(f"offset must be between 0 and {MAX_OFFSET}, got {offset}")
