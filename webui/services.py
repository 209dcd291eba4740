"""The web app's view of the daemon: the one module that calls into `AppContext`.

Blueprints stay thin (parse request -> call here -> render/jsonify) and every coupling to
library, search and encoder signatures lives in this file, so a change there is a change
in one place here.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps

from edge_app.errors import ImageDecodeError, QueryError
from edge_app.library.roots import display_path, key_of_display
from edge_app.library.store import Photo, PhotoFilter

if TYPE_CHECKING:
    from edge_app.context import AppContext
    from edge_app.settings import Settings
    from webui.state import WebState


@dataclass(frozen=True)
class Hit:
    """One search result as the UI shows it."""

    id: int
    score: float
    name: str
    folder: str
    alt: str = ""
    text_match: str | None = None  # the recognised line that matched the query (OCR)

    def to_json(self) -> dict[str, Any]:
        """API shape of a result (URLs are relative to the appliance)."""
        return {
            "id": self.id,
            "score": round(self.score, 6),
            "name": self.name,
            "folder": self.folder,
            "text_match": self.text_match,
            "thumb_url": f"/api/photos/{self.id}/thumb",
            "page_url": f"/photos/{self.id}",
        }


@dataclass(frozen=True)
class SearchFilters:
    """Filters from query parameters (``date_from``, ``date_to``, ``folder``, ``camera``,
    ``min_score``); parsed once so views and API reject the same bad input the same way."""

    date_from: date | None = None
    date_to: date | None = None
    folder: str | None = None
    camera: str | None = None
    min_score: float | None = None
    tags: tuple[str, ...] = ()  # ``?tag=dog,beach``: photos with every tag (edge_app.tags)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> SearchFilters:
        """Parse request args; raises `QueryError` naming the bad parameter."""
        folder = (args.get("folder") or "").strip().strip("/") or None
        if folder and ".." in folder.split("/"):
            raise QueryError("folder must be a library folder such as 2023/holiday")
        return cls(
            date_from=_date_arg(args, "date_from"),
            date_to=_date_arg(args, "date_to"),
            folder=folder,
            camera=(args.get("camera") or "").strip() or None,
            min_score=_score_arg(args.get("min_score")),
            tags=tuple(t.strip() for t in (args.get("tag") or "").split(",") if t.strip()),
        )

    def to_photo_filter(self, root_names: dict[int, str] | None = None) -> PhotoFilter:
        """The library's metadata filter (min_score is applied to the ranked hits); a root's
        folder may be given as people read it (``NAS/2019``)."""
        folder = self.folder and key_of_display(self.folder, root_names or {})
        return PhotoFilter(
            taken_from=self.date_from, taken_to=self.date_to, folder=folder,
            camera=self.camera, tags=self.tags,
        )  # fmt: skip

    def to_args(self) -> dict[str, str]:
        """Back to query parameters (pagination links keep the filters)."""
        values = {
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "folder": self.folder or "",
            "camera": self.camera or "",
            "min_score": "" if self.min_score is None else str(self.min_score),
            "tag": ",".join(self.tags),
        }
        return {k: v for k, v in values.items() if v}


def _date_arg(args: Mapping[str, str], name: str) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise QueryError(f"{name} must be a date like 2024-07-31, got {raw!r}") from exc


def _score_arg(raw: str | None) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise QueryError(f"min_score must be a number between -1 and 1, got {raw!r}") from exc
    if not -1.0 <= value <= 1.0:
        raise QueryError(f"min_score must be between -1 and 1, got {value}")
    return value


class PhotoView:
    """Base of the views of one photo (`PhotoInfo`, the gallery's `Card`): its id and
    file name, from the `photo` field the dataclass declares."""

    photo: Photo

    @property
    def id(self) -> int:
        return self.photo.id

    @property
    def name(self) -> str:
        return self.photo.rel_path.rpartition("/")[2]


@dataclass(frozen=True)
class PhotoInfo(PhotoView):
    """A photo's metadata for the photo page and /api/photos/<id>."""

    photo: Photo
    details: list[tuple[str, str]] = field(default_factory=list)
    folder_label: str = ""  # the folder as people read it ("NAS/2019", not ".roots/3/2019")

    @property
    def alt(self) -> str:
        return alt_text(self.photo)

    def to_json(self) -> dict[str, Any]:
        p = self.photo
        return {
            "id": p.id,
            "name": self.name,
            "rel_path": p.rel_path,
            "folder": p.folder,
            "folder_label": self.folder_label or p.folder,
            "width": p.width,
            "height": p.height,
            "size": p.size,
            "taken_at": p.taken_at.isoformat() if p.taken_at else None,
            "camera": p.camera,
            "gps": [p.gps_lat, p.gps_lon] if p.has_gps else None,
            "status": p.status,
            "error_reason": p.error_reason,
            "indexed_at": p.indexed_at,
            "sha256": p.sha256,
            "thumb_url": f"/api/photos/{p.id}/thumb",
            "file_url": f"/api/photos/{p.id}/file",
            "page_url": f"/photos/{p.id}",
        }


def alt_text(p: Photo) -> str:
    """What a screen reader says for a thumbnail: file name, date and place when known
    (coordinates: the box is offline, so there is no place-name lookup)."""
    parts = [p.rel_path.rpartition("/")[2]]
    if p.taken_at:
        parts.append(f"taken {p.taken_at:%-d %B %Y}")
    if p.has_gps and p.gps_lat is not None and p.gps_lon is not None:
        lat = f"{abs(p.gps_lat):.3f}° {'N' if p.gps_lat >= 0 else 'S'}"
        lon = f"{abs(p.gps_lon):.3f}° {'E' if p.gps_lon >= 0 else 'W'}"
        parts.append(f"at {lat}, {lon}")
    return ", ".join(parts)


def _details(p: Photo, folder: str) -> list[tuple[str, str]]:
    """Human-readable metadata rows, only those that are known."""
    rows = [
        ("Folder", folder or "(library root)"),
        ("Taken", p.taken_at.strftime("%Y-%m-%d %H:%M") if p.taken_at else ""),
        ("Camera", p.camera or ""),
        ("Size", f"{p.width} × {p.height} px" if p.width and p.height else ""),
        ("File size", f"{p.size / 1_000_000:.1f} MB" if p.size else ""),
        ("Location", f"{p.gps_lat:.5f}, {p.gps_lon:.5f}" if p.has_gps else ""),
        ("Status", p.status if not p.error_reason else f"{p.status}: {p.error_reason}"),
    ]
    return [(k, v) for k, v in rows if v]


def photo_info(ctx: AppContext, photo_id: int) -> PhotoInfo:
    """Metadata of one photo; `NotFoundError` (-> 404) for an unknown id."""
    photo = ctx.reader.get_photo(photo_id)
    folder = display_path(photo.folder, ctx.reader.root_names())  # "NAS/2019", not the key
    return PhotoInfo(photo=photo, details=_details(photo, folder), folder_label=folder)


def photo_path(ctx: AppContext, photo_id: int) -> Path:
    """The photo's file, proven to lie inside its photo root (links included)."""
    from edge_app.indexing.roots import photo_file

    return photo_file(ctx.reader, ctx.settings, ctx.reader.get_photo(photo_id).rel_path)


@functools.cache
def _register_heif() -> None:
    """HEIC previews; registered lazily so importing the web app stays cheap."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def _render_jpeg(path: Path, max_side: int, max_pixels: int) -> io.BytesIO:
    """Upright (EXIF-rotated) RGB JPEG no larger than `max_side` pixels."""
    _register_heif()
    try:
        with Image.open(path) as img:
            if img.width * img.height > max_pixels:
                raise ImageDecodeError(f"{path.name} has more pixels than max_image_pixels")
            img.draft("RGB", (max_side, max_side))
            upright = ImageOps.exif_transpose(img) or img
            rgb = upright.convert("RGB")
    except (OSError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(f"cannot read {path.name}: {exc}") from exc
    rgb.thumbnail((max_side, max_side))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=85)
    out.seek(0)
    return out


def thumbnail_jpeg(ctx: AppContext, photo_id: int) -> io.BytesIO | Path:
    """The indexer's stored thumbnail, else one rendered from the original."""
    photo = ctx.reader.get_photo(photo_id)
    if photo.thumb_path:
        thumbs = ctx.settings.thumbs_dir.resolve()
        stored = (thumbs / photo.thumb_path).resolve()
        if stored.is_relative_to(thumbs) and stored.is_file():
            return stored
    return _render_jpeg(photo_path(ctx, photo_id), 256, ctx.settings.max_image_pixels)


def preview_jpeg(ctx: AppContext, photo_id: int, max_side: int) -> io.BytesIO:
    """Display version of a photo: browsers cannot show HEIC, and EXIF rotation is applied."""
    return _render_jpeg(photo_path(ctx, photo_id), max_side, ctx.settings.max_image_pixels)


def bundle_id(ctx: AppContext) -> str:
    """Which engine bundle produced embeddings (clients must not mix bundles)."""
    return str(ctx.encoder.bundle_id)


def embed_texts(ctx: AppContext, texts: list[str]) -> np.ndarray:
    """(N, D) float32 text embeddings."""
    return np.asarray(ctx.encoder.encode_text(texts), dtype=np.float32)


def embed_images(ctx: AppContext, images: list[Image.Image]) -> np.ndarray:
    """(N, D) float32 image embeddings."""
    return np.asarray(ctx.encoder.encode_images(images), dtype=np.float32)


# --------------------------------------------------------------------------- search
def _hits(ctx: AppContext, results: Any) -> list[Hit]:
    """Attach names to the service's ranked results, keeping rank order."""
    ranked = [(int(r.photo_id), float(r.score), getattr(r, "text_match", None)) for r in results]
    photos = {p.id: p for p in ctx.reader.get_photos([i for i, _, _ in ranked])}
    return [
        Hit(
            id=i,
            score=s,
            name=photos[i].rel_path.rpartition("/")[2],
            folder=photos[i].folder,
            alt=alt_text(photos[i]),
            text_match=t,
        )
        for i, s, t in ranked
        if i in photos
    ]


def _search_args(ctx: AppContext, filters: SearchFilters | None) -> dict[str, Any]:
    """Filters and min score go INTO the vector search, so pages are never short."""
    if filters is None:
        return {"photo_filter": None, "min_score": None}
    flt = filters.to_photo_filter(ctx.reader.root_names())
    return {"photo_filter": flt, "min_score": filters.min_score}


#: CLIP reads 77 tokens; a longer query is a mistake (or an attack), not a search.
MAX_QUERY_CHARS = 1000


def search_text(
    ctx: AppContext, query: str, limit: int, offset: int, filters: SearchFilters | None
) -> list[Hit]:
    """Text or query-grammar search; `QueryError` (-> 400) for a bad or over-long query."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"q is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    from webui.people_services import guard_person_query
    from webui.state import web_state

    guard_person_query(web_state(), query)
    page = ctx.search.search(query, limit=limit, offset=offset, **_search_args(ctx, filters))
    return _hits(ctx, page)


def search_image(
    ctx: AppContext, image: Image.Image, limit: int, filters: SearchFilters | None,
    offset: int = 0,
) -> list[Hit]:  # fmt: skip
    """Search by an uploaded image."""
    page = ctx.search.search_image(image, limit=limit, offset=offset, **_search_args(ctx, filters))
    return _hits(ctx, page)


def similar(
    ctx: AppContext, photo_id: int, limit: int, filters: SearchFilters | None = None,
    offset: int = 0,
) -> list[Hit]:  # fmt: skip
    """Photos most like `photo_id`, without the photo itself; `NotFoundError` -> 404."""
    ctx.reader.get_photo(photo_id)  # unknown or trashed: NotFoundError, not a query error
    page = ctx.search.similar(photo_id, limit=limit, offset=offset, **_search_args(ctx, filters))
    return _hits(ctx, page)


def status(state: WebState) -> dict[str, Any]:
    """Everything /api/status returns (see `webui.system_status`)."""
    from webui import system_status

    return system_status.status(state)


def status_for_page(state: WebState) -> dict[str, Any]:
    """`status` with display strings for the library page."""
    from webui import system_status

    return system_status.status_for_page(state)


# --------------------------------------------------------------------------- uploads / trash
def content_known(ctx: AppContext, sha256: str) -> bool:
    """A library photo already holds these bytes (an upload of them is a duplicate); a
    trashed one does not (`LibraryTrash.restore_content` brings it back)."""
    return ctx.reader.in_library(sha256)


def photos_by_id(ctx: AppContext, ids: list[int]) -> list[Photo]:
    """The photos of ``ids`` that exist, in their order (an id gone meanwhile is left out)."""
    found = {p.id: p for p in ctx.reader.get_photos(ids)}
    return [found[i] for i in ids if i in found]


def file_jpeg(path: Path, max_side: int, settings: Settings) -> io.BytesIO:
    """A display JPEG of a file that is not (or no longer) a library photo: the trash."""
    return _render_jpeg(path, max_side, settings.max_image_pixels)


def index_now(ctx: AppContext) -> None:
    """Index what changed on disk in this thread (no daemon job queue: tests, `flask run`)."""
    ctx.index_library()
