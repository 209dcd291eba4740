"""Uploaded query images kept for a while under a token, so image search has a GET URL.

Why: a POST result cannot be reloaded, bookmarked or shared on the LAN. The upload is
re-encoded as a JPEG (already validated and EXIF-rotated by `webui.security`), named by
the hash of its pixels' JPEG bytes (the same image gives the same token), and kept in
``data_dir/query-images`` for ``TOKEN_TTL_S``; older ones are deleted on the next upload,
and the folder is capped by count and bytes (settings ``query_images_max_*``: any signed-in
client can upload, so the disk must not depend on their restraint).
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from pathlib import Path

from PIL import Image

from edge_app.errors import NotFoundError, QueryError

TOKEN_TTL_S = 7 * 24 * 3600
MAX_SIDE = 1024  # enough for CLIP (224-336 px) and for showing it above the results
_TOKEN = re.compile(r"^[0-9a-f]{20}$")


def _dir(data_dir: Path) -> Path:
    return data_dir / "query-images"


def save(data_dir: Path, image: Image.Image, max_count: int, max_bytes: int) -> str:
    """Store a validated upload; returns its token (20 hex chars). At most `max_count`
    images and `max_bytes` stay: the oldest go first (never the one just saved)."""
    small = image.convert("RGB")
    small.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=90)
    data = out.getvalue()
    token = hashlib.sha256(data).hexdigest()[:20]
    folder = _dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    _expire(folder)
    target = folder / f"{token}.jpg"
    tmp = folder / f".{token}.tmp"
    tmp.write_bytes(data)
    tmp.replace(target)  # atomic: a reader never sees half a file
    _cap(folder, target, max_count, max_bytes)
    return token


def _expire(folder: Path) -> None:
    """Delete query images older than the TTL (called on each upload)."""
    cutoff = time.time() - TOKEN_TTL_S
    for old in folder.glob("*.jpg"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


def _cap(folder: Path, keep: Path, max_count: int, max_bytes: int) -> None:
    """Delete the oldest query images until both caps hold."""
    kept = []
    for item in folder.glob("*.jpg"):
        try:
            kept.append((item.stat().st_mtime_ns, item.stat().st_size, item))
        except FileNotFoundError:  # a concurrent upload already expired it
            continue
    kept.sort()
    count, total = len(kept), sum(size for _t, size, _p in kept)
    for _mtime, size, item in kept:
        if count <= max_count and total <= max_bytes:
            return
        if item != keep:
            item.unlink(missing_ok=True)
            count, total = count - 1, total - size


def path(data_dir: Path, token: str) -> Path:
    """The stored image; `QueryError` for a malformed token, `NotFoundError` once expired."""
    if not _TOKEN.match(token):
        raise QueryError(f"qimg must be a query-image token (20 hex characters), got {token!r}")
    found = _dir(data_dir) / f"{token}.jpg"
    if not found.is_file():
        raise NotFoundError(
            "this search image has expired or was never uploaded: drop the image again"
        )
    return found


def load(data_dir: Path, token: str) -> Image.Image:
    """The query image for search (decoded RGB)."""
    with Image.open(path(data_dir, token)) as img:
        return img.convert("RGB")
