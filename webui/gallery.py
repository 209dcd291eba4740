"""The photo-app view of the library: timeline, search listings with relevance, viewer
neighbours, filter choices (folders, cameras, places).

A *listing* is what a grid shows: the timeline (no query), a text query, "more like this"
(``like=ID``) or an uploaded image (``qimg=TOKEN``), always with the same filters. The
viewer re-runs the listing to find the previous/next photo, so prev/next works without
JavaScript and survives a reload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from edge_app.errors import QueryError
from edge_app.library.cameras import camera_key, camera_name
from edge_app.library.records import Photo, PhotoFilter
from edge_app.library.roots import display_path
from edge_app.search import places
from webui import query_images, relevance
from webui.services import MAX_QUERY_CHARS, PhotoView, SearchFilters

if TYPE_CHECKING:
    from edge_app.context import AppContext

PAGE_SIZE = 48
MAX_PAGES = 40


@dataclass(frozen=True)
class Card(PhotoView):
    """One grid cell: the photo, the date it is grouped under, its place and score."""

    photo: Photo
    shown_at: str
    place: str = ""
    score: float | None = None
    text_match: str | None = None  # the recognised line that matched the query (OCR)

    @property
    def day(self) -> str:
        """'Sunday 29 November 2026' (the group heading), '' when unknown."""
        try:
            return datetime.fromisoformat(self.shown_at).strftime("%A %-d %B %Y")
        except ValueError:
            return ""

    @property
    def alt(self) -> str:
        """Alt text: file name, date, place."""
        return ", ".join(p for p in (self.name, self.shown_at[:10], self.place) if p)


@dataclass(frozen=True)
class Listing:
    """Parsed list parameters (query kind + filters), shared by grid and viewer."""

    q: str = ""
    like: int | None = None
    qimg: str | None = None
    filters: SearchFilters = field(default_factory=SearchFilters)
    place: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Listing:
        """`QueryError` naming the bad parameter."""
        like_raw = (args.get("like") or "").strip()
        if like_raw and not (like_raw.isascii() and like_raw.isdigit() and len(like_raw) <= 18):
            raise QueryError(f"like must be a photo id, got {like_raw[:40]!r}")
        q = (args.get("q") or "").strip()
        if len(q) > MAX_QUERY_CHARS:
            raise QueryError(f"q is {len(q)} characters long; the limit is {MAX_QUERY_CHARS}")
        return cls(
            q=q,
            like=int(like_raw) if like_raw else None,
            qimg=(args.get("qimg") or "").strip() or None,
            filters=SearchFilters.from_args(args),
            place=(args.get("place") or "").strip() or None,
        )

    @property
    def kind(self) -> str:
        if self.qimg:
            return "image"
        if self.like is not None:
            return "like"
        return "text" if self.q else "timeline"

    def to_args(self) -> dict[str, Any]:
        """Back to query parameters (typed Any for `url_for(**args)`)."""
        out: dict[str, Any] = dict(self.filters.to_args())
        for key, value in (
            ("q", self.q),
            ("like", self.like),
            ("qimg", self.qimg),
            ("place", self.place),
        ):
            if value not in (None, ""):
                out[key] = str(value)
        return out

    def photo_filter(self, ctx: AppContext) -> PhotoFilter:
        """Filters as the library's `PhotoFilter`; camera and place resolve to an id list."""
        base = replace(self.filters.to_photo_filter(ctx.reader.root_names()), camera=None)
        ids: set[int] | None = None
        if self.filters.camera:
            ids = camera_ids(ctx, self.filters.camera)
        if self.place:
            found = place_ids(ctx, self.place)
            ids = found if ids is None else ids & found
        return base if ids is None else replace(base, ids=tuple(sorted(ids)))


def camera_ids(ctx: AppContext, wanted: str) -> set[int]:
    """Photos whose normalised make ('Nikon') or make + model ('Nikon D750') is `wanted`."""
    out = set()
    for photo_id, make, model in ctx.reader.camera_rows():
        key = camera_key(make, model)
        if key and wanted in (key[0], camera_name(make, model)):
            out.add(photo_id)
    return out


def cameras(ctx: AppContext) -> dict[str, dict[str, int]]:
    """make -> {model -> photo count}, normalised, junk dropped, sorted."""
    tree: dict[str, dict[str, int]] = {}
    for _id, make, model in ctx.reader.camera_rows():
        key = camera_key(make, model)
        if key:
            models = tree.setdefault(key[0], {})
            models[key[1] or ""] = models.get(key[1] or "", 0) + 1
    return {m: dict(sorted(tree[m].items())) for m in sorted(tree)}


def _places_by_id(ctx: AppContext) -> dict[int, places.Place]:
    """Stored at index time (schema v6): no geocoding per request."""
    rows = ctx.reader.place_rows()
    return {i: places.Place(city, region, country, "") for i, city, region, country in rows}


def place_ids(ctx: AppContext, wanted: str) -> set[int]:
    """Photos in country `wanted` ('France') or city 'Paris, France'."""
    return {
        i for i, p in _places_by_id(ctx).items() if wanted in (p.country, f"{p.city}, {p.country}")
    }


def place_tree(ctx: AppContext) -> dict[str, dict[str, int]]:
    """country -> {city -> photo count}, sorted (for the place filter)."""
    tree: dict[str, dict[str, int]] = {}
    for p in _places_by_id(ctx).values():
        cities = tree.setdefault(p.country or "Unknown", {})
        cities[p.city] = cities.get(p.city, 0) + 1
    return {c: dict(sorted(tree[c].items())) for c in sorted(tree)}


def folder_tree(ctx: AppContext) -> list[tuple[str, int]]:
    """Every folder (with its ancestors) and the photos in it and below, sorted; a root's
    folders as people read them (``NAS/2019``, which the folder filter accepts), never
    its internal ``.roots/<id>`` key."""
    totals: dict[str, int] = {}
    names = ctx.reader.root_names()
    for key, n in ctx.reader.folder_counts().items():
        folder = display_path(key, names)
        parts = folder.split("/") if folder else []
        for depth in range(1, len(parts) + 1):
            label = "/".join(parts[:depth])
            totals[label] = totals.get(label, 0) + n
    return sorted(totals.items())


def _with_places(items: Sequence[tuple[Photo, str, float | None]]) -> list[Card]:
    return [Card(photo=p, shown_at=shown, place=p.place, score=score) for p, shown, score in items]


def timeline(ctx: AppContext, listing: Listing, offset: int, limit: int) -> list[Card]:
    """Newest first (taken date, else file date)."""
    rows = ctx.reader.timeline(listing.photo_filter(ctx), limit=limit, offset=offset)
    return _with_places([(p, shown, None) for p, shown in rows])


@dataclass(frozen=True)
class Ranked:
    """A query's ranked window, split by relevance."""

    cards: list[Card]
    split: relevance.Split


def ranked(ctx: AppContext, listing: Listing) -> Ranked:
    """Run the query (text, like or image) over the filtered library, best first."""
    flt = listing.photo_filter(ctx)
    args: dict[str, Any] = {"limit": relevance.WINDOW}
    if listing.kind == "image":
        image = query_images.load(ctx.settings.data_dir, listing.qimg or "")
        page = ctx.search.search_image(image, flt, **args)
    elif listing.kind == "like":
        page = ctx.search.similar(listing.like or 0, flt, **args)
    else:
        page = ctx.search.search(listing.q, flt, **args)
    photos = {p.id: p for p in ctx.reader.get_photos([r.photo_id for r in page])}
    hits = [r for r in page if r.photo_id in photos]
    items = [(photos[r.photo_id], _shown(photos[r.photo_id]), r.score) for r in hits]
    cards = [
        replace(card, text_match=getattr(hit, "text_match", None))
        for card, hit in zip(_with_places(items), hits, strict=True)
    ]
    return Ranked(cards=cards, split=_split_with_text(cards, _null_gap(ctx)))


def _split_with_text(cards: Sequence[Card], null: float) -> relevance.Split:
    """Text (OCR) matches rank first and are always close; the rest split by relevance."""
    texts = sum(1 for c in cards if c.text_match)
    rest = relevance.split([c.score or 0.0 for c in cards[texts:]], null)
    if not texts:
        return rest
    return relevance.Split(strong=texts + rest.strong, no_close=False, cutoff=rest.cutoff)


def _shown(p: Photo) -> str:
    if p.taken_at is not None:
        return p.taken_at.isoformat(timespec="seconds")
    if p.mtime_ns:
        return datetime.fromtimestamp(p.mtime_ns / 1e9).isoformat(timespec="seconds")
    return ""


def _null_gap(ctx: AppContext) -> float:
    index_size = len(ctx.search.store.current())
    key = (str(ctx.encoder.bundle_id), index_size)

    def probe(text: str) -> list[float]:
        return [r.score for r in ctx.search.search(text, limit=relevance.WINDOW)]

    return relevance.null_gap(key, probe)


def neighbours(
    ctx: AppContext, listing: Listing, pos: int, photo_id: int
) -> tuple[int | None, int | None]:
    """(previous id, next id) around position `pos` of the listing, if it still holds `photo_id`."""
    ids: list[int | None]
    if listing.kind == "timeline":
        start = max(pos - 1, 0)
        ids = [None] * (1 - (pos - start)) + [c.id for c in timeline(ctx, listing, start, 3)]
    else:
        window = [c.id for c in ranked(ctx, listing).cards]
        ids = [window[i] if 0 <= i < len(window) else None for i in (pos - 1, pos, pos + 1)]
    if len(ids) < 2 or ids[1] != photo_id:
        return None, None
    return ids[0], ids[2] if len(ids) > 2 else None
