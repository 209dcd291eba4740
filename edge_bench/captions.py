"""Image-caption sets: COCO JSON, Flickr-style CSV, or a simple JSON list/mapping.

Recall needs images grouped with all of their captions, so every format is turned
into `list[CaptionedImage]`; captions whose image is missing on disk are dropped
(COCO caption files cover far more images than a mini subset ships).

Caption files are UTF-8 in any language (a leading BOM is accepted): Chinese captions such
as Flickr8k-CN's `captions_zh.txt` work as they are, including unquoted ASCII commas
inside a caption and characters Python's `splitlines` would break on (U+2028, U+0085).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


@dataclass(frozen=True)
class CaptionedImage:
    path: Path
    captions: tuple[str, ...]


def _group(pairs: list[tuple[str, str]], images_dir: Path) -> list[CaptionedImage]:
    """(file name, caption) pairs -> one entry per existing image, in file-name order."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for name, cap in pairs:
        if cap.strip():
            grouped[name.strip()].append(cap.strip())
    out = []
    for name in sorted(grouped):
        path = images_dir / name
        if path.is_file():
            out.append(CaptionedImage(path, tuple(grouped[name])))
    return out


def _coco_pairs(data: dict[str, Any]) -> list[tuple[str, str]]:
    files = {int(im["id"]): str(im["file_name"]) for im in data["images"]}
    return [
        (files[int(a["image_id"])], str(a["caption"]))
        for a in data["annotations"]
        if int(a["image_id"]) in files
    ]


def _json_pairs(data: Any) -> list[tuple[str, str]]:
    """COCO dict, [{"image":..,"caption":..}], or {"file": ["cap", ...]}."""
    if isinstance(data, dict) and "annotations" in data and "images" in data:
        return _coco_pairs(data)
    if isinstance(data, list):
        return [(str(d["image"]), str(d["caption"])) for d in data]
    if isinstance(data, dict):
        return [
            (str(k), str(c))
            for k, caps in data.items()
            for c in ([caps] if isinstance(caps, str) else caps)
        ]
    raise ValueError("unrecognised caption JSON: expected COCO, a list or a mapping")


def _csv_pairs(path: Path) -> list[tuple[str, str]]:
    """Flickr8k `image,caption` (header) or Flickr30k `image| n| caption` files."""
    text = _read_utf8(path)
    dialect = csv.Sniffer().sniff(text[:4096], delimiters=",|\t")
    rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
    if (
        rows
        and rows[0]
        and rows[0][0].strip().lower() in ("image", "image_name", "file", "filename")
    ):
        rows = rows[1:]
    if dialect.delimiter == ",":  # an unquoted comma belongs to the caption
        return [(r[0].split("#")[0], ",".join(r[1:])) for r in rows if len(r) >= 2]
    return [(r[0].split("#")[0], r[-1]) for r in rows if len(r) >= 2]


def _read_utf8(path: Path) -> str:
    """The file as text; a clear error for a file that is not UTF-8 (e.g. GBK)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not UTF-8 ({exc.reason} at byte {exc.start}): re-save it as UTF-8, "
            "e.g. `iconv -f GBK -t UTF-8`"
        ) from exc


def load_caption_set(
    images_dir: Path, captions_file: Path, limit: int | None = None
) -> list[CaptionedImage]:
    """Parse `captions_file` and keep images present in `images_dir` (first `limit`)."""
    if captions_file.suffix.lower() == ".json":
        pairs = _json_pairs(json.loads(_read_utf8(captions_file)))
    else:
        pairs = _csv_pairs(captions_file)
    items = _group(pairs, images_dir)
    if not items:
        raise ValueError(
            f"no caption in {captions_file} names an image present in {images_dir}: "
            "check that --images points at the folder the file names are relative to"
        )
    return items[:limit] if limit else items


def list_images(folder: Path, limit: int) -> list[Path]:
    """Image files under `folder`, sorted, so repeated runs use the same inputs."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return files[:limit]
