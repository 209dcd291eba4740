"""Security primitives of the web UI: secrets on disk, CSRF, rate limiting, headers, uploads.

Kept free of Flask blueprints so each piece can be reasoned about (and tested) on its own;
`webui/auth.py` and `webui/app.py` wire them into request handling.
"""

from __future__ import annotations

import hmac
import io
import secrets
import threading
import time
import warnings
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from edge_app.private_files import write_private

CSRF_SESSION_KEY = "csrf_token"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

# `default-src 'self'` forbids inline scripts and styles, so every template keeps its CSS
# and JS in static/ files; img blob:/data: is needed for the drag-and-drop preview.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

ALLOWED_UPLOAD_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "MPO"})


class UploadError(ValueError):
    """An uploaded file is not an acceptable image; the message is shown to the user."""


def load_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """Return the persistent session-signing key, creating it on first run, so logins
    survive a daemon restart without a key baked into the code."""
    if path.is_file():
        data = path.read_bytes()
        if len(data) >= 16:
            return data
    data = secrets.token_bytes(nbytes)
    write_private(path, data)
    return data


def new_csrf_token() -> str:
    """A fresh unguessable token bound to one browser session."""
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison so the token cannot be guessed byte by byte."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


class LoginRateLimiter:
    """Sliding-window count of failed logins per client address.

    In memory on purpose: the appliance is one process, and a restart forgetting the
    counts is harmless compared with a password that can be brute-forced at line rate.
    """

    def __init__(self, max_failures: int = 5, window_s: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def retry_after(self, key: str) -> int:
        """Seconds until `key` may try again; 0 when it is not blocked."""
        now = time.monotonic()
        with self._lock:
            q = self._prune(key, now)
            if len(q) < self.max_failures:
                return 0
            return max(1, int(self.window_s - (now - q[0])) + 1)

    def record_failure(self, key: str) -> None:
        """Count one failed attempt for `key`."""
        now = time.monotonic()
        with self._lock:
            self._prune(key, now).append(now)

    def reset(self, key: str) -> None:
        """Forget failures after a successful login."""
        with self._lock:
            self._failures.pop(key, None)


def apply_security_headers(headers: dict[str, str] | object) -> None:
    """Set the fixed security headers on a response's header mapping (without replacing
    a header a view set on purpose)."""
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:  # type: ignore[operator]
            headers[name] = value  # type: ignore[index]


@dataclass(frozen=True)
class UploadedImage:
    """A validated upload: the decoded, EXIF-rotated RGB image and its detected format."""

    image: Image.Image
    format: str


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Open the header only and refuse oversized dimensions before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise UploadError("the upload is not a readable image") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # e.g. a JPEG cut inside its header
        raise UploadError(f"the upload is not a readable image: {exc}") from exc
    except Image.DecompressionBombWarning as exc:
        raise UploadError("the image has too many pixels") from exc
    width, height = img.size
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise UploadError(f"the image is {width}x{height} pixels; the limit is {max_pixels} pixels")
    if img.format not in ALLOWED_UPLOAD_FORMATS:
        raise UploadError(f"image format {img.format} is not supported")
    return img


def validate_image_upload(data: bytes, max_pixels: int) -> UploadedImage:
    """Decode uploaded bytes with Pillow's bomb guard and our own pixel limit.

    Checking the real decoded content (not the file name or the client's MIME type) is
    what keeps non-images and decompression bombs away from the encoder.
    """
    if not data:
        raise UploadError("the upload is empty")
    img = _open_checked(data, max_pixels)
    fmt = str(img.format)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
            rotated = ImageOps.exif_transpose(img) or img
            rgb = rotated.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as exc:
        raise UploadError(f"the image could not be decoded: {exc}") from exc
    return UploadedImage(image=rgb, format=fmt)
