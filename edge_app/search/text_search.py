"""Search by the text in photos (OCR), alone or combined with search by meaning.

The rule (also in docs/API.md):

1. ``text:"phrase"`` keeps only photos whose recognised text contains the phrase
   (case-insensitive substring, whitespace collapsed; Chinese substrings too).
   ``- text:"phrase"`` removes them. Several ``text:`` terms must all hold.
   Photos where the (first) phrase stands as whole words (case- and accent-insensitive,
   `edge_app.library.ocr_store.match_rank`) come before photos where it is only part of
   a longer word ("the" in "Theatre"); photos where a typed word of 5+ letters was only
   read one character off ("PAHIC" for "panic": OCR errors, `edge_app.library.near_words`)
   come last. Within each group, with other terms, photos are ranked by cosine to those
   terms; with ``text:`` terms only, by the confidence of the best matching line.
   Excluding terms (``- text:``) and the plain-query boost below match exactly.
2. A plain query (exactly one text term, no ``photo:``, no minus) also looks its
   words up as a phrase in the recognised text: photos that contain it come first
   (ranked by cosine, marked ``text_match``), then every other photo by cosine.
   ``min_score`` applies to the semantic part only: a literal text match is always
   listed. Filters apply to both parts; pagination runs over the combined list.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edge_app.library.ocr_store import TextHit
from edge_app.library.store import PhotoFilter
from edge_app.search.query import ParsedQuery
from edge_app.search.results import Searcher as SearchService
from edge_app.search.results import SearchPage, SearchResult, check_paging


def search_with_text(
    service: SearchService,
    parsed: ParsedQuery,
    photo_filter: PhotoFilter | None,
    *,
    limit: int,
    offset: int,
    min_score: float | None,
) -> SearchPage:
    """Run `parsed` by the rule in the module docstring."""
    check_paging(limit, offset)
    lib = service.library
    excluded = {
        h.photo_id for t in parsed.ocr_terms if t.weight < 0 for h in lib.text_hits(t.ocr or "")
    }
    positive = [t for t in parsed.ocr_terms if t.weight > 0]
    if positive:
        hits = _all_of([lib.text_hits(t.ocr or "", near=True) for t in positive])
        hits = [h for h in _filtered(service, hits, photo_filter) if h.photo_id not in excluded]
        return _rank_hits(service, parsed, hits, limit, offset, min_score)
    vector = service.query_vector(parsed)
    boost = _plain_phrase(parsed)
    hits = [] if boost is None else _filtered(service, lib.text_hits(boost), photo_filter)
    hits = [h for h in hits if h.photo_id not in excluded]
    return _combined(service, vector, hits, excluded, photo_filter, limit, offset, min_score)


def _plain_phrase(parsed: ParsedQuery) -> str | None:
    terms = parsed.terms
    if len(terms) == 1 and terms[0].text is not None and terms[0].weight > 0:
        return terms[0].text
    return None


def _all_of(hit_lists: list[list[TextHit]]) -> list[TextHit]:
    """Hits of the first term (its order and lines) that every other term also hit."""
    keep = set.intersection(*({h.photo_id for h in hits} for hits in hit_lists))
    return [h for h in hit_lists[0] if h.photo_id in keep]


def _filtered(
    service: SearchService, hits: list[TextHit], photo_filter: PhotoFilter | None
) -> list[TextHit]:
    if photo_filter is None or photo_filter.is_empty or not hits:
        return hits
    allowed = set(service.library.filter_ids(photo_filter).tolist())
    return [h for h in hits if h.photo_id in allowed]


def _cosines(service: SearchService, vector: np.ndarray, hits: list[TextHit]) -> dict[int, float]:
    ids, matrix = service.library.get_embeddings([h.photo_id for h in hits])
    scores = matrix @ vector if len(ids) else np.zeros(0, np.float32)
    return {int(i): float(s) for i, s in zip(ids, scores, strict=True)}


def _rank_hits(
    service: SearchService,
    parsed: ParsedQuery,
    hits: list[TextHit],
    limit: int,
    offset: int,
    min_score: float | None,
) -> SearchPage:
    """text: filter present: whole words first, then by the other terms' cosine, else by
    line confidence (the order `text_hits` returns)."""
    scored = [(h, h.score) for h in hits]
    if parsed.vector_terms:
        cos = _cosines(service, service.query_vector(parsed), hits)
        scored = sorted(
            ((h, cos[h.photo_id]) for h in hits if h.photo_id in cos),
            key=lambda p: (-p[0].rank, -p[1], p[0].photo_id),
        )
    if min_score is not None:
        scored = [p for p in scored if p[1] >= min_score]
    page = scored[offset : offset + limit]
    results = _results(service, page)
    return SearchPage(tuple(results), len(scored), offset, limit, len(scored) > offset + limit)


def _combined(
    service: SearchService,
    vector: np.ndarray,
    hits: list[TextHit],
    excluded: set[int],
    photo_filter: PhotoFilter | None,
    limit: int,
    offset: int,
    min_score: float | None,
) -> SearchPage:
    """Text matches first (by cosine), then the semantic ranking without them."""
    cos = _cosines(service, vector, hits)
    first = sorted(
        ((h, cos[h.photo_id]) for h in hits if h.photo_id in cos),
        key=lambda p: (-p[1], p[0].photo_id),
    )
    head = _results(service, first[offset : offset + limit])
    rest_offset = max(0, offset - len(first))
    rest_limit = max(1, limit - len(head))
    skip = tuple(sorted(excluded | {h.photo_id for h, _ in first}))
    rest = service.search_vector(
        vector,
        photo_filter,
        limit=rest_limit,
        offset=rest_offset,
        min_score=min_score,
        exclude=skip,
    )
    tail = list(rest.results)[: limit - len(head)]
    total = len(first) + rest.total
    more = offset + limit < len(first) or rest.has_more or len(rest.results) > len(tail)
    return SearchPage(tuple(head + tail), total, offset, limit, more)


def _results(service: SearchService, scored: list[tuple[TextHit, float]]) -> list[SearchResult]:
    photos = {p.id: p for p in service.library.get_photos([h.photo_id for h, _ in scored])}
    return [
        replace(SearchResult.from_photo(photos[h.photo_id], s), text_match=h.line)
        for h, s in scored
        if h.photo_id in photos
    ]
