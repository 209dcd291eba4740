"""Uploaded query images kept for a while under a token, so image search has a GET URL.

Why: a POST result cannot be reloaded, bookmarked or shared on the LAN. The upload is
re-encoded as a JPEG (already validated and EXIF-rotated by `webui.security`), named by
the hash of its pixels' JPEG bytes (the same image gives the same token), and kept in
``data_dir/query-images`` for ``TOKEN_TTL_S``; older ones are deleted on the next upload.
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


def save(data_dir: Path, image: Image.Image) -> str:
    """Store a validated upload; returns its token (20 hex chars)."""
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
    return token


def _expire(folder: Path) -> None:
    """Delete query images older than the TTL (called on each upload)."""
    cutoff = time.time() - TOKEN_TTL_S
    for old in folder.glob("*.jpg"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


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
