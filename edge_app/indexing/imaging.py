"""Decode one photo into what indexing needs: a model-sized RGB image, a thumbnail, EXIF.

Why it looks like this:

- Photos are big (12 MP JPEGs, 48 MP phone shots) and the model needs ~224 px. JPEGs are
  opened in *draft mode*, so libjpeg scales by 1/2, 1/4 or 1/8 while decoding the DCT:
  a 12 MP photo costs a 0.75 MP decode. Everything else is decoded at full size and
  resized once.
- The thumbnail is cut from the same decoded pixels, so a photo is decoded exactly once.
- A header is checked against ``max_pixels`` *before* any pixel is decoded (a 1 kB PNG can
  claim a gigapixel): a decompression bomb is rejected without allocating it.
- Only camera/phone/scanner formats are opened (JPEG/MPO, PNG, WebP, TIFF, BMP, GIF,
  HEIF/HEIC): Pillow never reaches e.g. EPS, which shells out to Ghostscript.
- A file whose extension lies about its content (``.jpg`` holding a PNG, common after
  phone exports) is *accepted* and the mismatch is reported in ``DecodedImage.notes``:
  the pixels are fine, refusing them would only lose a photo.
- Every failure raises `ImageDecodeError` whose message a person can act on
  ("zero-byte file", "truncated image file", "not an image (looks like a PDF)").
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

from edge_app.errors import ImageDecodeError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "DecodedImage",
    "ExifInfo",
    "decode_image",
    "make_thumbnail",
    "thumbnail_path",
    "write_thumbnail",
    "read_exif",
    "sniff_non_image",
]

#: Pillow's own hard limit (2 x MAX_IMAGE_PIXELS), ~179 MP: bigger than any camera sensor.
DEFAULT_MAX_PIXELS = 178_956_970

#: Formats Pillow may open, by Pillow plugin name (MPO files open through JPEG).
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF")

#: Lower-case extension -> the Pillow formats that content may legitimately have.
IMAGE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    ".jpg": ("JPEG", "MPO"),
    ".jpeg": ("JPEG", "MPO"),
    ".jpe": ("JPEG", "MPO"),
    ".png": ("PNG",),
    ".webp": ("WEBP",),
    ".tif": ("TIFF",),
    ".tiff": ("TIFF",),
    ".bmp": ("BMP",),
    ".gif": ("GIF",),
    ".heic": ("HEIF",),
    ".heif": ("HEIF",),
    ".hif": ("HEIF",),
}

_THUMB_QUALITY = 85
_SNIFF_BYTES = 64
_PILLOW_BOMB = re.compile(r"\((\d+) pixels\)")
_MAGIC = {b"\xff\xd8": "JPEG", b"\x89PNG": "PNG", b"GIF8": "GIF", b"BM": "BMP"}
_MAGIC.update({b"II*\x00": "TIFF", b"MM\x00*": "TIFF"})
_NON_IMAGE = {
    b"%PDF": "looks like a PDF",
    b"PK\x03\x04": "looks like a ZIP archive or office document",
    b"\x1f\x8b": "looks like a gzip archive",
    b"Rar!": "looks like a RAR archive",
    b"7z\xbc\xaf": "looks like a 7-Zip archive",
    b"ID3": "looks like an MP3 audio file",
    b"\x7fELF": "looks like a program",
    b"MZ": "looks like a Windows program",
}


_SWAPS_AXES = (5, 6, 7, 8)  # EXIF orientations that rotate by 90 degrees


@dataclass(frozen=True)
class ExifInfo:
    """The EXIF fields the library stores; ``None`` when the camera did not write them."""

    taken_at: str | None = None  # ISO 8601 local time as the camera wrote it
    camera_make: str | None = None
    camera_model: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    orientation: int | None = None


@dataclass(frozen=True)
class DecodedImage:
    """One decoded photo.

    ``image`` is RGB, upright (EXIF orientation applied) and its shortest side equals
    ``model_size`` (or is smaller when the original is). ``width``/``height`` are the
    original's, as displayed (after orientation). ``decoded_size`` is what the decoder
    produced before any resize: proof that draft mode did its job.
    """

    image: Image.Image
    thumbnail_jpeg: bytes
    width: int
    height: int
    format: str
    exif: ExifInfo
    decoded_size: tuple[int, int]
    notes: tuple[str, ...] = ()


def decode_image(
    path: Path,
    model_size: int,
    thumb_size: int = 256,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DecodedImage:
    """Decode ``path`` once into a model-sized RGB image, a JPEG thumbnail and its EXIF."""
    path = Path(path)
    _register_heif()
    try:
        fp = path.open("rb")
    except OSError as exc:
        raise ImageDecodeError(_os_error_reason(exc)) from exc
    with fp:
        return _decode_open_file(fp, path, model_size, thumb_size, max_pixels)


def _decode_open_file(
    fp: IO[bytes], path: Path, model_size: int, thumb_size: int, max_pixels: int
) -> DecodedImage:
    """Sniff, open (header only), guard, then decode: the order is the bomb defence."""
    head = fp.read(_SNIFF_BYTES)
    if not head:
        raise ImageDecodeError("zero-byte file")
    fp.seek(0)
    im = _open_header(fp, head, max_pixels)
    original = im.size
    im.draft("RGB", _draft_request(original, model_size, thumb_size))
    _load_pixels(im)
    exif, exif_notes = read_exif(im)
    upright = _to_rgb(ImageOps.exif_transpose(im))
    swap = exif.orientation in _SWAPS_AXES
    return DecodedImage(
        image=_resize_shortest(upright, model_size),
        thumbnail_jpeg=make_thumbnail(upright, thumb_size),
        width=original[1] if swap else original[0],
        height=original[0] if swap else original[1],
        format=im.format or "unknown",
        exif=exif,
        decoded_size=im.size,
        notes=_extension_notes(path, im.format or "") + exif_notes,
    )


def _open_header(fp: IO[bytes], head: bytes, max_pixels: int) -> Image.Image:
    """Parse the header only (Pillow is lazy) and refuse anything over the pixel budget."""
    try:
        im = Image.open(fp, formats=ALLOWED_FORMATS)
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f"not an image ({sniff_non_image(head)})") from exc
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(_pillow_bomb_reason(str(exc), max_pixels)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        kind = _magic_format(head)
        if "truncated" in str(exc).lower():
            raise ImageDecodeError(f"truncated {kind} file (header incomplete)") from exc
        raise ImageDecodeError(f"corrupt {kind} header ({exc})") from exc
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"corrupt image header (size {width}x{height})")
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"image too large: {width}x{height} pixels exceeds the "
            f"{_megapixels(max_pixels)} MP limit"
        )
    return im


def _load_pixels(im: Image.Image) -> None:
    """Decode the pixels, turning decoder failures into reasons a person understands."""
    try:
        im.load()
    except OSError as exc:
        text = str(exc)
        if "truncated" in text or "premature end" in text.lower():
            raise ImageDecodeError(f"truncated {im.format or 'image'} file ({text})") from exc
        raise ImageDecodeError(f"corrupt {im.format or 'image'} data ({text})") from exc
    except (SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageDecodeError(f"corrupt {im.format or 'image'} data ({exc})") from exc


def _draft_request(size: tuple[int, int], model_size: int, thumb_size: int) -> tuple[int, int]:
    """Smallest size that still gives the model its shortest side and the thumb its longest.

    ``Image.draft`` picks the largest DCT scale whose result is at least this big.
    """
    width, height = size
    scale = max(model_size / min(width, height), thumb_size / max(width, height))
    if scale >= 1.0:
        return size
    return (math.ceil(width * scale), math.ceil(height * scale))


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB for the model; transparent areas become white (what a viewer shows), not black."""
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale (scanners, PNG): scale to 8 bit instead of clipping to white.
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L").convert("RGB")
    return im.convert("RGB")


def _resize_shortest(im: Image.Image, side: int) -> Image.Image:
    """Shrink so the shortest side is exactly ``side`` (never enlarge)."""
    width, height = im.size
    if min(width, height) <= side:
        return im
    if width <= height:
        size = (side, max(side, round(height * side / width)))
    else:
        size = (max(side, round(width * side / height)), side)
    return im.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def make_thumbnail(im: Image.Image, thumb_size: int) -> bytes:
    """JPEG bytes fitting a ``thumb_size`` square, for the web UI's grid."""
    thumb = im.copy()
    thumb.thumbnail((thumb_size, thumb_size), Image.Resampling.BICUBIC, reducing_gap=2.0)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=_THUMB_QUALITY, optimize=True)
    return out.getvalue()


def thumbnail_path(thumbs_dir: Path, sha256: str) -> Path:
    """Thumbnails are content-addressed (``ab/abcd....jpg``): moves and copies share one."""
    return thumbs_dir / f"{sha256[:2]}/{sha256}.jpg"


def write_thumbnail(thumbs_dir: Path, sha256: str, data: bytes) -> str:
    """Write once, atomically (temp + rename): a crash never leaves half a JPEG behind.

    Returns the path relative to ``thumbs_dir`` (what the library stores).
    """
    target = thumbnail_path(thumbs_dir, sha256)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return target.relative_to(thumbs_dir).as_posix()


def read_exif(im: Image.Image) -> tuple[ExifInfo, tuple[str, ...]]:
    """EXIF fields, plus a note when the block is unreadable.

    Broken EXIF is common (editing apps) and does not make the pixels unusable, so it
    yields empty fields and a note the pipeline logs, never a rejected photo.
    """
    try:
        exif = im.getexif()
        sub, gps = exif.get_ifd(0x8769), exif.get_ifd(0x8825)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError) as exc:
        return ExifInfo(), (f"EXIF unreadable ({exc})",)
    taken = sub.get(0x9003) or sub.get(0x9004) or exif.get(0x0132)
    info = ExifInfo(
        taken_at=_exif_datetime(taken),
        camera_make=_exif_text(exif.get(0x010F)),
        camera_model=_exif_text(exif.get(0x0110)),
        gps_lat=_gps_coord(gps.get(2), gps.get(1), "S", 90.0),
        gps_lon=_gps_coord(gps.get(4), gps.get(3), "W", 180.0),
        orientation=_orientation(exif.get(0x0112)),
    )
    return info, ()


def _exif_text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text or None


def _exif_datetime(value: object) -> str | None:
    """'2023:07:14 18:03:11' -> '2023-07-14T18:03:11'; placeholders like 0000:00:00 -> None."""
    text = _exif_text(value)
    if text is None:
        return None
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def _gps_coord(value: object, ref: object, negative: str, limit: float) -> float | None:
    """Degrees/minutes/seconds rationals to signed decimal degrees."""
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    try:
        deg = float(value[0]) + float(value[1]) / 60 + float(value[2]) / 3600
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(deg) or deg > limit:
        return None
    return -deg if _exif_text(ref) == negative else deg


def _orientation(value: object) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _extension_notes(path: Path, fmt: str) -> tuple[str, ...]:
    """Accept-and-note a content/extension mismatch (see module docstring)."""
    expected = IMAGE_EXTENSIONS.get(path.suffix.lower())
    if expected is None or fmt in expected:
        return ()
    return (f"extension {path.suffix} but content is {fmt}",)


def sniff_non_image(head: bytes) -> str:
    """Name what a non-image file probably is, from its first bytes, for the error text."""
    for magic, what in _NON_IMAGE.items():
        if head.startswith(magic):
            return what
    if head[4:8] == b"ftyp":
        return f"looks like a video ({head[8:12].decode('latin-1').strip()} container)"
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str:
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "looks like a web page"
    if lowered.startswith(b"<?xml") or lowered.startswith(b"<svg"):
        return "looks like XML/SVG (vector images are not indexed)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # the 64-byte window may cut a multi-byte character in half
        text = head[: exc.start].decode("utf-8") if exc.start >= len(head) - 3 else "\x00"
    if text and all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return "looks like a text file"
    return "unrecognised content"


def _magic_format(head: bytes) -> str:
    """The format the first bytes claim, for messages about a broken header."""
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return "HEIF" if head[4:8] == b"ftyp" else "image"


def _pillow_bomb_reason(message: str, max_pixels: int) -> str:
    """Pillow's own guard fired first (its limit is ~179 MP); keep our wording."""
    match = _PILLOW_BOMB.search(message)
    size = f"{_megapixels(int(match.group(1)))} MP" if match else "its pixel count"
    return f"image too large: {size} exceeds the {_megapixels(max_pixels)} MP limit"


def _megapixels(pixels: int) -> int:
    return max(1, round(pixels / 1_000_000))


def _os_error_reason(exc: OSError) -> str:
    """File-system errors while reading (e.g. a USB stick pulled out mid-copy)."""
    name = type(exc).__name__
    return f"cannot read file ({name}: {exc.strerror or exc})"


@functools.cache
def _register_heif() -> None:
    """HEIC/HEIF (iPhone) support; registered once, lazily, so importing stays cheap."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
