"""Checks a pack must pass before a single row is written to the library.

Why all up front: a pack refused half-way would leave the box with part of it. Shards
are hashed whole (a truncated or altered shard fails here), every thumbnail is hashed
against its row, the bundle and precision must be the box's own, and a photo root must
be reachable. Photo files that travel with the pack are hashed while they are copied.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from edge_app.errors import PackError
from edge_app.indexing.scanner import sha256_file
from edge_app.packs.format import INCLUDED, PHOTOS_DIR, THUMBS_DIR, PackManifest, ShardEntry

IO_THREADS = 4  # file opens and hashing release the GIL
ROOT_SAMPLE = 32  # files stat'ed to prove a photo root mapping points at the photos


@dataclass(frozen=True)
class BoxEngine:
    """What the box encodes with: a pack must have been made with exactly this."""

    bundle_id: str
    backend: str
    precision: str
    dim: int


def check_engine(manifest: PackManifest, box: BoxEngine) -> None:
    """Another bundle or precision would put vectors from another space in the index."""
    if manifest.bundle_id != box.bundle_id:
        raise PackError(
            f"the pack was encoded with bundle {manifest.bundle_id}, this box runs "
            f"{box.bundle_id}: rebuild the pack with this box's bundle "
            f"(`edge-build pack --bundle <the box's bundle folder>`)"
        )
    if manifest.image_precision != box.precision or manifest.dim != box.dim:
        raise PackError(
            f"the pack's embeddings are {manifest.image_precision} ({manifest.image_backend}), "
            f"this box encodes with {box.precision} ({box.backend}): rebuild the pack with "
            f"`edge-build pack --prefer {box.backend}:{box.precision}`, or run the box with "
            f"EDGE_BACKEND={manifest.image_backend}:{manifest.image_precision}"
        )


def shard_path(pack_dir: Path, shard: ShardEntry) -> Path:
    rel = PurePosixPath(shard.path)
    if rel.is_absolute() or ".." in rel.parts:
        raise PackError(f"pack.json names shard {shard.path!r} outside the pack: refused")
    return pack_dir / rel


def verify_shards(pack_dir: Path, manifest: PackManifest) -> None:
    for shard in manifest.shards:
        path = shard_path(pack_dir, shard)
        try:
            got = sha256_file(path)
        except OSError as exc:
            raise PackError(f"cannot read shard {shard.path} ({exc}): copy the pack again") from exc
        if got != shard.sha256:
            raise PackError(
                f"shard {shard.path} does not match its checksum in pack.json (truncated or "
                f"altered: sha256 {got[:12]}..., expected {shard.sha256[:12]}...): copy the "
                "pack again; nothing was imported"
            )


def iter_column(pack_dir: Path, manifest: PackManifest, *names: str) -> Iterator[dict[str, object]]:
    """Rows of a few columns over every shard, in bounded batches."""
    import pyarrow.parquet as pq

    for shard in manifest.shards:
        for batch in pq.ParquetFile(shard_path(pack_dir, shard)).iter_batches(
            batch_size=4096, columns=list(names)
        ):
            yield from batch.to_pylist()


def thumb_file(pack_dir: Path, sha256: str) -> Path:
    return pack_dir / THUMBS_DIR / sha256[:2] / f"{sha256}.jpg"


def verify_thumbs(pack_dir: Path, manifest: PackManifest, threads: int = IO_THREADS) -> None:
    """Hash every thumbnail against its row (threads: file opens dominate on slow disks)."""
    rows = iter_column(pack_dir, manifest, "sha256", "thumb_sha256", "rel_path")
    with ThreadPoolExecutor(threads, "pack-verify") as pool:
        while chunk := list(itertools.islice(rows, 4096)):  # map() would queue every row
            for bad in pool.map(lambda r: _thumb_problem(pack_dir, r), chunk):
                if bad:
                    raise PackError(bad)


def _thumb_problem(pack_dir: Path, row: dict[str, object]) -> str | None:
    expected = row["thumb_sha256"]
    if expected is None:
        return None
    path = thumb_file(pack_dir, str(row["sha256"]))
    try:
        if sha256_file(path) == expected:
            return None
    except OSError:
        pass
    return (
        f"thumbnail {path.relative_to(pack_dir)} of {row['rel_path']} is missing or "
        "corrupt (checksum mismatch): copy the pack again; nothing was imported"
    )


def check_rel_path(rel: str) -> str:
    """A pack must never place a file outside its destination."""
    parts = PurePosixPath(rel).parts
    if not rel or rel.startswith("/") or ".." in parts or "\\" in rel:
        raise PackError(f"the pack lists an unsafe path {rel!r}: refused")
    return rel


def photo_source(pack_dir: Path, manifest: PackManifest, root_map: Path | None) -> Path:
    """The folder holding the photos as the box sees them (pack/photos or the mapped root)."""
    if manifest.photos_mode == INCLUDED:
        source = pack_dir / PHOTOS_DIR
        where = f"the pack's {PHOTOS_DIR}/ folder"
    else:
        source = root_map or Path(str(manifest.root))
        where = f"the photo root {source} (pack made over {manifest.root})"
    sample = list(
        itertools.islice(iter_column(pack_dir, manifest, "rel_path", "size"), ROOT_SAMPLE)
    )
    missing = [
        str(r["rel_path"]) for r in sample
        if not _same_size(source / check_rel_path(str(r["rel_path"])), r["size"])
    ]  # fmt: skip
    if not source.is_dir() or missing:
        raise PackError(
            f"{where} does not hold the pack's photos ({len(missing)} of {len(sample)} checked "
            f"missing, e.g. {missing[:1]}): mount the share, or map it with "
            "`edge-app import-pack PACK --root-map /path/seen/by/the/box`; nothing was imported"
        )
    return source


def _same_size(path: Path, size: object) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False
