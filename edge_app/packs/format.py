"""The library pack format, shared by the packer (`build_engines.pack`) and the importer.

A pack is a folder::

    pack.json                    manifest: bundle, photo source, counts, shard checksums, tools
    shards/part-00000.parquet    one row per photo: metadata, EXIF, embedding, OCR lines
    thumbs/ab/<sha256>.jpg       the box's thumbnails, content-addressed like its own
    photos/<rel_path>            the photo files, when they travel with the pack

Why Parquet: columnar, compressed, readable in bounded batches (`iter_batches`), and
Ray Data, Spark and DuckDB read it too. Why a JSON manifest beside it: checksums and
the bundle identity must be checked before a single row is read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_app.errors import PackError
from edge_app.library.ocr_store import OcrLineRow
from edge_app.library.records import PLACE_COLUMNS, PhotoMeta

if TYPE_CHECKING:
    import pyarrow as pa

FORMAT = "edge-library-pack"
FORMAT_VERSION = 1
MANIFEST_NAME = "pack.json"
SHARDS_DIR = "shards"
THUMBS_DIR = "thumbs"
PHOTOS_DIR = "photos"
INCLUDED, ROOT = "included", "root"  # where the photo files are (PackManifest.photos_mode)

#: PhotoMeta fields stored as columns (thumb_path is the box's own: derived on import).
# Place names are not in a pack: the box derives them from GPS with its own GeoNames table.
META_FIELDS = tuple(
    f.name for f in fields(PhotoMeta) if f.name != "thumb_path" and f.name not in PLACE_COLUMNS
)


@dataclass(frozen=True)
class ShardEntry:
    path: str  # relative to the pack folder
    rows: int
    sha256: str


@dataclass(frozen=True)
class PackManifest:
    """What `pack.json` holds; `load` refuses anything it cannot trust."""

    pack_id: str
    bundle_id: str
    image_backend: str
    image_precision: str
    dim: int
    photos_mode: str  # INCLUDED or ROOT
    root: str | None = None  # ROOT: the folder as the box sees it (a path mapping)
    shards: tuple[ShardEntry, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    failures: tuple[tuple[str, str], ...] = ()  # (rel_path, reason): not in any shard
    ocr_engine: str | None = None
    tools: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    stats: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "pack_id": self.pack_id,
            "created_at": self.created_at,
            "bundle": {
                "bundle_id": self.bundle_id,
                "image_backend": self.image_backend,
                "image_precision": self.image_precision,
                "dim": self.dim,
            },
            "photos": {"mode": self.photos_mode, "root": self.root},
            "counts": self.counts,
            "shards": [vars(s) for s in self.shards],
            "failures": [{"path": p, "reason": r} for p, r in self.failures],
            "ocr": {"engine": self.ocr_engine} if self.ocr_engine else None,
            "tools": self.tools,
            "stats": self.stats,
        }

    def save(self, pack_dir: Path) -> None:
        """Written last and atomically: a pack without `pack.json` is an unfinished one."""
        tmp = pack_dir / f".{MANIFEST_NAME}.tmp"
        tmp.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, pack_dir / MANIFEST_NAME)

    @classmethod
    def load(cls, pack_dir: Path) -> PackManifest:
        path = Path(pack_dir) / MANIFEST_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls._from_json(data)
        except FileNotFoundError as exc:
            raise PackError(
                f"{pack_dir} is not a library pack (no {MANIFEST_NAME}): point at the folder "
                "`edge-build pack --out` wrote, and check the packing run finished"
            ) from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PackError(f"{path} is damaged ({exc}): copy the pack again") from exc

    @classmethod
    def _from_json(cls, d: dict[str, Any]) -> PackManifest:
        if d.get("format") != FORMAT:
            raise ValueError(f"format is {d.get('format')!r}, not {FORMAT!r}")
        if int(d["version"]) > FORMAT_VERSION:
            raise PackError(
                f"pack format version {d['version']} is newer than this box understands "
                f"({FORMAT_VERSION}): update edge-photo-search on the box"
            )
        b, photos = d["bundle"], d["photos"]
        if photos["mode"] not in (INCLUDED, ROOT) or (
            photos["mode"] == ROOT and not photos["root"]
        ):
            raise ValueError(f"photos mode {photos!r} is neither included nor a root path")
        return cls(
            pack_id=str(d["pack_id"]),
            bundle_id=str(b["bundle_id"]),
            image_backend=str(b["image_backend"]),
            image_precision=str(b["image_precision"]),
            dim=int(b["dim"]),
            photos_mode=photos["mode"],
            root=photos.get("root"),
            shards=tuple(
                ShardEntry(str(s["path"]), int(s["rows"]), str(s["sha256"])) for s in d["shards"]
            ),
            counts={k: int(v) for k, v in d.get("counts", {}).items()},
            failures=tuple((str(f["path"]), str(f["reason"])) for f in d.get("failures", [])),
            ocr_engine=(d.get("ocr") or {}).get("engine"),
            tools={str(k): str(v) for k, v in d.get("tools", {}).items()},
            created_at=str(d.get("created_at", "")),
            stats={str(k): float(v) for k, v in d.get("stats", {}).items()},
        )


def arrow_schema(dim: int) -> pa.Schema:
    """Columns of a shard; the embedding is float32 (the box stores float16, like its own)."""
    import pyarrow as pa

    line = pa.struct(
        [("text", pa.string()), ("score", pa.float64()), ("box", pa.list_(pa.list_(pa.float64())))]
    )
    return pa.schema(
        [
            ("rel_path", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()),
            ("sha256", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
            ("taken_at", pa.string()), ("camera_make", pa.string()),
            ("camera_model", pa.string()), ("gps_lat", pa.float64()), ("gps_lon", pa.float64()),
            ("orientation", pa.int32()), ("embedding", pa.list_(pa.float32(), dim)),
            ("thumb_sha256", pa.string()), ("ocr_state", pa.string()),
            ("ocr_lines", pa.list_(line)),
        ]
    )  # fmt: skip


def meta_row(meta: PhotoMeta) -> dict[str, Any]:
    """A PhotoMeta as shard columns (taken_at as ISO text, like the library stores it)."""
    row = {name: getattr(meta, name) for name in META_FIELDS}
    row["taken_at"] = meta.taken_at.isoformat() if meta.taken_at else None
    return row


def row_meta(row: dict[str, Any], rel_path: str, thumb_path: str | None) -> PhotoMeta:
    """The inverse of `meta_row`, keyed for the box (``rel_path`` = its library key)."""
    values = {name: row[name] for name in META_FIELDS}
    values["taken_at"] = datetime.fromisoformat(row["taken_at"]) if row["taken_at"] else None
    return PhotoMeta(**{**values, "rel_path": rel_path, "thumb_path": thumb_path})


def ocr_column(rows: list[OcrLineRow]) -> list[dict[str, Any]]:
    return [{"text": r.text, "score": r.score, "box": [list(p) for p in r.box]} for r in rows]


def ocr_rows(column: list[dict[str, Any]] | None) -> list[OcrLineRow]:
    return [
        OcrLineRow(
            str(c["text"]), float(c["score"]), tuple((float(x), float(y)) for x, y in c["box"])
        )
        for c in column or []
    ]
