"""Records of the photo library (frozen dataclasses mirroring rows) and row conversions.

Kept apart from `edge_app.library.store` so that callers (pipeline, search, web) can import
the types without the SQL, and so conversions (float16 blobs, ISO dates) live in one place.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from edge_app.errors import LibraryError

IN_CHUNK = 500

PHOTO_STATUSES = ("indexed", "pending", "error")
IMPORT_STATES = ("running", "done", "interrupted", "failed")
IMPORT_FILE_STATES = ("verified", "failed", "skipped")


#: the place name of a photo's GPS position, stored when it is indexed (schema v6)
PLACE_COLUMNS = ("place_city", "place_region", "place_country")


@dataclass(frozen=True)
class PendingPhoto:
    """An indexed photo waiting for an enrichment pass (OCR, faces) on its current content."""

    photo_id: int
    rel_path: str
    sha256: str | None


@dataclass(frozen=True)
class PhotoMeta:
    """What the pipeline knows about one file; the input of every photo write.

    ``rel_path`` is relative to the library root, POSIX separators. ``taken_at`` is the
    camera's wall-clock time (EXIF has no zone), stored without tzinfo.
    """

    rel_path: str
    size: int
    mtime_ns: int
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    orientation: int | None = None
    thumb_path: str | None = None
    place_city: str | None = None  # the place of the GPS position (`edge_app.search.places`)
    place_region: str | None = None
    place_country: str | None = None


@dataclass(frozen=True)
class Photo:
    """One row of ``photos`` as read back (without the embedding, which is heavy)."""

    id: int
    rel_path: str
    sha256: str | None
    size: int | None
    mtime_ns: int | None
    width: int | None
    height: int | None
    taken_at: datetime | None
    camera_make: str | None
    camera_model: str | None
    gps_lat: float | None
    gps_lon: float | None
    orientation: int | None
    status: str
    error_reason: str | None
    bundle_id: str | None
    thumb_path: str | None
    indexed_at: str | None
    added_at: str
    has_embedding: bool
    place_city: str | None = None
    place_region: str | None = None
    place_country: str | None = None

    @property
    def place(self) -> str:
        """'Lyon, Auvergne-Rhône-Alpes, France' as stored at index time ('' without GPS)."""
        return place_label(self.place_city, self.place_region, self.place_country)

    @property
    def camera(self) -> str | None:
        """Display name, also accepted by ``PhotoFilter.camera``."""
        return camera_label(self.camera_make, self.camera_model)

    @property
    def folder(self) -> str:
        """The folder part of ``rel_path`` ("" for the library root)."""
        return self.rel_path.rpartition("/")[0]

    @property
    def has_gps(self) -> bool:
        return self.gps_lat is not None and self.gps_lon is not None


@dataclass(frozen=True, slots=True)
class KnownFile:
    """The change-detection view of a photo: what the scanner compares against."""

    id: int
    rel_path: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    status: str
    bundle_id: str | None


@dataclass(frozen=True)
class PhotoFilter:
    """Metadata filters applied together with the vector search (all optional, ANDed).

    ``taken_from``/``taken_to`` are inclusive; a `date` bound covers that whole day.
    ``folder`` is a library-relative folder ("2023/holiday") matching it and everything
    below. ``camera`` matches the make, the model, or "make model" (`Photo.camera`).
    Photos without ``taken_at`` never match a date bound.
    """

    taken_from: date | datetime | None = None
    taken_to: date | datetime | None = None
    folder: str | None = None
    camera: str | None = None
    has_gps: bool | None = None
    tags: tuple[str, ...] = ()  # label names (any set, case-insensitive); ALL must be present
    ids: tuple[int, ...] | None = None  # allow-list resolved elsewhere (normalised camera, place)
    people: tuple[str, ...] = ()  # person names (case-insensitive); ALL must be in the photo

    @property
    def is_empty(self) -> bool:
        return not self.tags and not self.people and all(
            v is None
            for v in (
                self.taken_from, self.taken_to, self.folder, self.camera, self.has_gps, self.ids
            )
        )  # fmt: skip


@dataclass(frozen=True)
class ImportSession:
    """One USB/folder import; counters are kept up to date by ``record_import_file``."""

    id: int
    source_key: str
    label: str | None
    dest_dir: str
    state: str
    reason: str | None
    found: int
    copied: int
    skipped_duplicate: int
    failed: int
    bytes_copied: int
    started_at: str
    finished_at: str | None


@dataclass(frozen=True)
class ImportFile:
    """One source file of an import session; ``state`` is verified, failed or skipped."""

    session_id: int
    source_rel_path: str
    state: str
    sha256: str | None = None
    size: int | None = None
    dest_rel_path: str | None = None
    reason: str | None = None


def camera_label(make: str | None, model: str | None) -> str | None:
    """A display name; "Canon Canon EOS 5D" reads badly, so a repeated make is dropped."""
    make, model = (make or "").strip(), (model or "").strip()
    if model and make and model.lower().startswith(make.lower()):
        return model
    return " ".join(p for p in (make, model) if p) or None


def date_bound(value: date | datetime) -> str:
    """A filter bound as comparable text: a `date` sorts before any time of that day."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    return value.isoformat()


def iso_local(value: datetime | None) -> str | None:
    """Camera time as sortable ISO text without zone (EXIF has none)."""
    return None if value is None else value.replace(tzinfo=None).isoformat(timespec="seconds")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def id_chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield [int(i) for i in ids[start : start + IN_CHUNK]]


def to_blob(vector: np.ndarray, rel_path: str) -> bytes:
    vec = np.asarray(vector, dtype=np.float32).reshape(-1)
    if vec.size == 0 or not np.all(np.isfinite(vec)):
        raise LibraryError(
            f"embedding for {rel_path!r} is empty or not finite: the encoder output is broken "
            "(check the engine bundle with `edge-build verify`)"
        )
    return vec.astype(np.float16).tobytes()


def from_blobs(blobs: Sequence[bytes]) -> np.ndarray:
    """float16 blobs -> C-contiguous float32 (N, D) with unit rows."""
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    sizes = {len(b) for b in blobs}
    if len(sizes) != 1:
        raise LibraryError(
            f"stored embeddings have different sizes {sorted(sizes)}: re-index the library "
            "(`edge-app reindex`) after a bundle change"
        )
    mat = (
        np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), -1).astype(np.float32)
    )
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    return np.ascontiguousarray(mat / np.maximum(norms, 1e-12), dtype=np.float32)


def place_label(city: str | None, region: str | None, country: str | None) -> str:
    """The parts that are known, the region left out when it is the city's own name."""
    shown_region = "" if region == city else region
    return ", ".join(p for p in (city, shown_region, country) if p)


def photo_from_row(row: dict[str, Any]) -> Photo:
    values = dict(row)
    taken = values.get("taken_at")
    values["taken_at"] = datetime.fromisoformat(taken) if taken else None
    values["has_embedding"] = bool(values["has_embedding"])
    return Photo(**values)
