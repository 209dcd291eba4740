"""Server-rendered pages of the photo app: home grid (timeline or search), viewer.

Everything works without JavaScript: "Load more" and prev/next are plain links and the
weak matches sit in a <details>. `static/gallery.js` adds infinite scroll (it fetches
the same URL with ``partial=1`` and appends the cards), keys, swipe and zoom.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from flask import render_template, request, url_for

from edge_app.indexing.exif_details import read_exposure
from webui import gallery, services
from webui import ocr as ocr_web
from webui.gallery import PAGE_SIZE, Listing
from webui.state import web_state


def _int(name: str, default: int, high: int) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not raw.isdigit():
        raise services.QueryError(f"{name} must be a positive number, got {raw!r}")
    return min(max(int(raw), 1 if default else 0), high)


def _choices() -> dict[str, Any]:
    ctx = web_state().context
    return {
        "folders": gallery.folder_tree(ctx),
        "camera_tree": gallery.cameras(ctx),
        "place_tree": gallery.place_tree(ctx),
    }


def home(listing: Listing, error: str | None = None) -> str:
    """The library grid: timeline without a query, ranked results with one."""
    page = _int("page", 1, gallery.MAX_PAGES)
    upto = _int("upto", 0, gallery.MAX_PAGES)
    first = 1 if upto else page
    last = max(upto, page)
    values = (
        _timeline(listing, first, last)
        if listing.kind == "timeline"
        else _ranked(listing, first, last)
    )
    values.update(listing=listing, error=error, page=last)
    if request.args.get("partial") == "1":
        return render_template("_results.html", **values)
    return render_template("search.html", **_choices(), **values)


def _next_url(listing: Listing, page: int) -> str:
    return url_for("views.search", **listing.to_args(), page=page + 1)


def _timeline(listing: Listing, first: int, last: int) -> dict[str, Any]:
    ctx = web_state().context
    offset = (first - 1) * PAGE_SIZE
    cards = gallery.timeline(ctx, listing, offset, (last - first + 1) * PAGE_SIZE + 1)
    more = len(cards) > (last - first + 1) * PAGE_SIZE
    return {
        "cards": cards[: (last - first + 1) * PAGE_SIZE],
        "start": offset,
        "grouped": True,
        "weak": [],
        "no_close": False,
        "next_url": _next_url(listing, last) if more else None,
        "source": None,
    }


def _ranked(listing: Listing, first: int, last: int) -> dict[str, Any]:
    ctx = web_state().context
    result = gallery.ranked(ctx, listing)
    strong = result.cards[: result.split.strong]
    offset = (first - 1) * PAGE_SIZE
    end = last * PAGE_SIZE
    more = len(strong) > end
    source = services.photo_info(ctx, listing.like) if listing.like is not None else None
    return {
        "cards": strong[offset:end],
        "start": offset,
        "grouped": False,
        "weak": [] if more else result.cards[result.split.strong :],
        "weak_start": len(strong),
        "no_close": result.split.no_close,
        "next_url": _next_url(listing, last) if more else None,
        "source": source,
    }


def human_size(size: int | None) -> str:
    """46 213 -> '45 kB' (binary units, as file managers show)."""
    if not size:
        return ""
    units = ("bytes", "kB", "MB", "GB")
    power = min(int(math.log(size, 1024)), len(units) - 1)
    value = size / 1024**power
    return f"{value:.0f} {units[power]}" if power < 2 else f"{value:.1f} {units[power]}"


def _file_date(mtime_ns: int) -> str:
    """Shown when the camera wrote no date: the file's modification time."""
    return datetime.fromtimestamp(mtime_ns / 1e9).strftime("%A %-d %B %Y, %H:%M")


def _info_rows(ctx: Any, info: services.PhotoInfo) -> list[tuple[str, str]]:
    """The info panel: date, camera, exposure, size, folder, place."""
    p = info.photo
    exposure = read_exposure(services.photo_path(ctx, p.id))
    place = p.place  # stored at index time
    rows = [
        ("Taken", p.taken_at.strftime("%A %-d %B %Y, %H:%M") if p.taken_at else ""),
        ("File date", "" if p.taken_at or not p.mtime_ns else _file_date(p.mtime_ns)),
        ("Camera", gallery.camera_name(p.camera_make, p.camera_model) or ""),
        ("Lens", exposure.lens or ""),
        ("Exposure", exposure.exposure or ""),
        ("Aperture", exposure.aperture or ""),
        ("ISO", exposure.iso or ""),
        ("Focal length", exposure.focal_length or ""),
        ("Dimensions", f"{p.width} × {p.height} px" if p.width and p.height else ""),
        ("File size", human_size(p.size)),
        ("Folder", info.folder_label or "(library root)"),
        ("Place", place),
        ("GPS", f"{p.gps_lat:.5f}, {p.gps_lon:.5f}" if p.has_gps else ""),
    ]
    return [(k, v) for k, v in rows if v]


def viewer(photo_id: int) -> str:
    """Full-screen viewer with prev/next inside the listing it was opened from."""
    ctx = web_state().context
    listing = Listing.from_args(request.args)
    pos = _int("pos", 0, 100_000) if request.args.get("pos") else None
    info = services.photo_info(ctx, photo_id)
    prev_id = next_id = None
    if pos is not None:
        prev_id, next_id = gallery.neighbours(ctx, listing, pos, photo_id)
    args = listing.to_args()

    def link(other: int | None, delta: int) -> str | None:
        if other is None or pos is None:
            return None
        return url_for("views.photo", photo_id=other, **args, pos=pos + delta)

    upto = (pos // PAGE_SIZE) + 1 if pos is not None else 1
    back_args: dict[str, Any] = {**args, "upto": upto} if upto > 1 else args
    back = url_for("views.search", **back_args) + f"#photo-{photo_id}"
    similar = services.similar(ctx, photo_id, 12)
    return render_template(
        "photo.html", photo=info, rows=_info_rows(ctx, info), prev_url=link(prev_id, -1),
        next_url=link(next_id, 1), back_url=back, similar=similar, listing=listing,
        ocr=ocr_web.photo_text(ctx, photo_id),
    )  # fmt: skip
