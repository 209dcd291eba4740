"""Search by meaning: text, image, similar-to-photo and weighted combinations.

Why it works this way: every query becomes ONE unit vector (the weighted sum of its
terms' CLIP embeddings, re-normalised), and the metadata filters become a FAISS
``IDSelector`` allow-list, so filtering happens inside the vector search and a page is
never short because the best matches were filtered out afterwards. Scores are cosine
similarities in [-1, 1].

``total`` in a `SearchPage` is the number of photos the query can rank: with
``min_score`` the number scoring at least that much (a range search), otherwise every
indexed photo passing the filters.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edge_app.errors import ImageDecodeError, NotFoundError, QueryError
from edge_app.library.store import Library, PhotoFilter
from edge_app.search.duplicates import DuplicateGroup, find_duplicates
from edge_app.search.index_store import IndexStore
from edge_app.search.query import ParsedQuery, parse_query
from edge_app.search.results import SearchPage, SearchResult, check_paging
from edge_app.search.text_search import search_with_text
from edge_app.settings import Settings

log = logging.getLogger(__name__)

SCORE_EPS = 1e-6  # float noise between two FAISS kernels computing the same cosine


class QueryEncoder(Protocol):
    """What search needs from `engines.ClipEncoder` (unit-norm float32 outputs)."""

    @property
    def bundle_id(self) -> str: ...
    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...
    def encode_images(self, imgs: Sequence[Image.Image]) -> np.ndarray: ...


class SearchService:
    """Turns queries into vectors and vectors into pages of photos (thread-safe)."""

    def __init__(
        self, settings: Settings, library: Library, store: IndexStore, encoder: QueryEncoder
    ) -> None:
        """``library`` should be a reader (`Library.open_reader`) in the web process."""
        self.settings = settings
        self.library = library
        self.store = store
        self.encoder = encoder

    def search(
        self, query: str, photo_filter: PhotoFilter | None = None, *, limit: int = 50,
        offset: int = 0, min_score: float | None = None,
    ) -> SearchPage:  # fmt: skip
        """Parse and run a query string (see `edge_app.search.query` for the grammar)."""
        parsed = parse_query(query)
        if parsed.people:
            photo_filter = self._with_people(photo_filter, parsed.people)
        if parsed.tags:
            photo_filter = self._with_tags(photo_filter, parsed.tags)
        if photo_filter is not None and not parsed.terms and (parsed.tags or parsed.people):
            if parsed.tags:
                return self.tag_page(photo_filter, limit=limit, offset=offset)
            return self.filter_page(photo_filter, limit=limit, offset=offset)
        return search_with_text(
            self, parsed, photo_filter, limit=limit, offset=offset, min_score=min_score
        )

    def search_image(
        self, image: Image.Image | bytes, photo_filter: PhotoFilter | None = None, *,
        limit: int = 50, offset: int = 0, min_score: float | None = None,
    ) -> SearchPage:  # fmt: skip
        """Photos that look like an uploaded image (PIL image or encoded bytes)."""
        img = image if isinstance(image, Image.Image) else self.decode_upload(image)
        vector = _unit_row(self.encoder.encode_images([img]), "image encoder")
        return self.search_vector(
            vector, photo_filter, limit=limit, offset=offset, min_score=min_score
        )

    def similar(
        self, photo_id: int, photo_filter: PhotoFilter | None = None, *, limit: int = 50,
        offset: int = 0, min_score: float | None = None,
    ) -> SearchPage:  # fmt: skip
        """Photos like ``photo_id`` (the photo itself is left out)."""
        vector = self._photo_vector(photo_id, position=0)
        return self.search_vector(
            vector,
            photo_filter,
            limit=limit,
            offset=offset,
            min_score=min_score,
            exclude=(photo_id,),
        )

    def _with_tags(self, photo_filter: PhotoFilter | None, tags: Sequence[str]) -> PhotoFilter:
        """``tag:`` terms become a filter; an unknown tag is an error, not an empty page."""
        missing = self.library.missing_tag_names(tags)
        if missing:
            raise QueryError(
                f"no label is named {', '.join(map(repr, missing))}: see the Things page "
                "(/things) for the tags in this library"
            )
        base = photo_filter or PhotoFilter()
        return replace(base, tags=tuple(dict.fromkeys((*base.tags, *tags))))

    def _with_people(self, photo_filter: PhotoFilter | None, names: Sequence[str]) -> PhotoFilter:
        """``person:`` terms become a filter; People off or an unknown name is an error."""
        if not self.library.faces_enabled():
            raise QueryError("person: needs People, which is turned off (an admin turns it on)")
        missing = self.library.missing_person_names(names)
        if missing:
            raise QueryError(
                f"nobody is named {', '.join(map(repr, missing))}: name a person on the "
                "People page (/people) first"
            )
        base = photo_filter or PhotoFilter()
        return replace(base, people=tuple(dict.fromkeys((*base.people, *names))))

    def filter_page(
        self, photo_filter: PhotoFilter, *, limit: int = 50, offset: int = 0
    ) -> SearchPage:
        """Photos matching a filter alone (``person:"Ana"``), newest first; score 1."""
        check_paging(limit, offset)
        total = self.library.count_photos(photo_filter)
        photos = self.library.list_photos(photo_filter, limit=limit, offset=offset)
        results = tuple(SearchResult.from_photo(p, 1.0) for p in photos)
        return SearchPage(results, total, offset, limit, total > offset + limit)

    def tag_page(
        self, photo_filter: PhotoFilter, *, limit: int = 50, offset: int = 0
    ) -> SearchPage:
        """Photos carrying all of the filter's tags, best summed tag score first."""
        check_paging(limit, offset)
        allowed = self.library.filter_ids(photo_filter)
        scores = self.library.tag_scores([int(i) for i in allowed], photo_filter.tags)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        page = ranked[offset : offset + limit]
        results = self._results(
            np.asarray([i for i, _ in page], np.int64), np.asarray([s for _, s in page], np.float32)
        )
        return SearchPage(tuple(results), len(ranked), offset, limit, len(ranked) > offset + limit)

    def query_vector(self, parsed: ParsedQuery) -> np.ndarray:
        """The normalised weighted sum of the terms' embeddings."""
        texts = parsed.texts
        text_vecs = self.encoder.encode_text(texts) if texts else np.zeros((0, 0), np.float32)
        total: np.ndarray | None = None
        next_text = 0
        for term in parsed.vector_terms:  # text:"..." terms filter, see text_search
            if term.photo_id is not None:
                vec = self._photo_vector(term.photo_id, term.position)
            else:
                vec, next_text = np.asarray(text_vecs[next_text], np.float32), next_text + 1
            total = term.weight * vec if total is None else total + term.weight * vec
        if total is None:
            raise QueryError(f"{parsed.source!r} has only text: filters and nothing to rank by")
        norm = float(np.linalg.norm(total))
        if norm < 1e-6:
            raise QueryError(
                f"the terms of {parsed.source!r} cancel each other out: change a weight"
            )
        return (total / norm).astype(np.float32)

    def search_vector(
        self, vector: np.ndarray, photo_filter: PhotoFilter | None = None, *, limit: int = 50,
        offset: int = 0, min_score: float | None = None, exclude: Sequence[int] = (),
    ) -> SearchPage:  # fmt: skip
        """Rank photos by cosine similarity to ``vector`` within ``photo_filter``."""
        check_paging(limit, offset)
        index = self.store.current()
        allowed = (
            None
            if photo_filter is None or photo_filter.is_empty
            else self.library.filter_ids(photo_filter)
        )
        if exclude:
            base = index.ids() if allowed is None else allowed
            allowed = np.setdiff1d(base, np.asarray(exclude, dtype=np.int64))
        if min_score is not None:
            # FAISS keeps scores strictly above the radius; min_score is inclusive
            [(scores, ids)] = index.range_search(vector, min_score - SCORE_EPS, allowed)
            total = len(ids)
        else:
            scores, ids = (a[0] for a in index.search(vector, offset + limit + 1, allowed))
            keep = ids >= 0
            scores, ids = scores[keep], ids[keep]
            total = len(index) if allowed is None else len(allowed)
        page_ids, page_scores = ids[offset : offset + limit], scores[offset : offset + limit]
        results = self._results(page_ids, page_scores)
        has_more = len(ids) > offset + limit
        return SearchPage(
            tuple(results), max(total, offset + len(results)), offset, limit, has_more
        )

    def duplicates(self, threshold: float | None = None) -> list[DuplicateGroup]:
        """Near-duplicate groups of the whole library (default: settings.duplicate_threshold)."""
        limit = self.settings.duplicate_threshold if threshold is None else threshold
        return find_duplicates(self.library, self.store.current(), self.encoder.bundle_id, limit)

    def _results(self, ids: np.ndarray, scores: np.ndarray) -> list[SearchResult]:
        photos = {p.id: p for p in self.library.get_photos([int(i) for i in ids])}
        missing = [int(i) for i in ids if int(i) not in photos]
        if missing:
            log.warning(
                "search: ids %s are in the vector index but not in the library (deleted meanwhile)",
                missing,
            )
        return [
            SearchResult.from_photo(photos[int(i)], float(s))
            for i, s in zip(ids, scores, strict=True)
            if int(i) in photos
        ]

    def _photo_vector(self, photo_id: int, position: int) -> np.ndarray:
        try:
            photo = self.library.get_photo(photo_id)
        except NotFoundError as exc:
            raise QueryError(
                f"photo:{photo_id} (at character {position + 1}) does not exist"
            ) from exc
        vec = self.library.get_embedding(photo_id)
        if vec is None or photo.status != "indexed" or photo.bundle_id != self.encoder.bundle_id:
            raise QueryError(
                f"photo:{photo_id} ({photo.rel_path}) is not indexed with the current model yet "
                f"(status {photo.status}): wait for indexing to finish"
            )
        return vec

    def decode_upload(self, data: bytes) -> Image.Image:
        """Decode an uploaded query image with the same size and pixel limits as indexing."""
        if len(data) > self.settings.max_upload_bytes:
            raise ImageDecodeError(
                f"upload is {len(data) / 2**20:.1f} MiB, over the "
                f"{self.settings.max_upload_bytes / 2**20:.0f} MiB limit: send a smaller image"
            )
        try:
            img = Image.open(io.BytesIO(data))
            pixels = img.size[0] * img.size[1]
            if pixels > self.settings.max_image_pixels:
                raise ImageDecodeError(
                    f"image too large: {img.size[0]}x{img.size[1]} pixels exceeds the "
                    f"{self.settings.max_image_pixels // 1_000_000} MP limit"
                )
            img.load()
            return ImageOps.exif_transpose(img).convert("RGB")
        except Image.DecompressionBombError as exc:
            raise ImageDecodeError(f"image too large for this appliance ({exc})") from exc
        except UnidentifiedImageError as exc:
            raise ImageDecodeError(f"the upload is not a usable image ({exc})") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageDecodeError(f"the upload is a damaged image ({exc})") from exc


def _unit_row(matrix: np.ndarray, what: str) -> np.ndarray:
    vec = np.asarray(matrix, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vec))
    if not np.isfinite(norm) or norm < 1e-6:
        raise QueryError(f"the {what} returned an empty embedding: check the engine bundle")
    return vec / norm
