"""The packing run: list the photos, stream them through Ray Data, write the pack.

Data flow (docs/CLUSTER.md)::

    driver: scan the folder -> from_items(paths)
      -> map_batches(decode_batch)        Ray tasks on CPU workers: hash, decode, EXIF, thumbnail
      -> map_batches(EncodeStage)         actor pool of `workers`: the bundle's image tower
      -> map_batches(OcrStage)            actor pool (bundles with OCR models only)
      -> iter_batches on the driver      -> PackWriter: shards, thumbnails, manifest

Why Ray Data: streaming execution with back-pressure (bounded object store use on a
10M-photo run), actor pools that load a model once per worker, and the same script on a
laptop (`ray.init(num_cpus=N)`) and on a cluster (`--ray-address`).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from build_engines.errors import BuildError
from build_engines.pack.stages import EncodeStage, OcrStage, decode_batch, row_dicts
from build_engines.pack.writer import PackWriter
from edge_app.indexing.imaging import DEFAULT_MAX_PIXELS
from edge_app.indexing.scanner import scan
from edge_app.packs.format import INCLUDED, MANIFEST_NAME, ROOT, PackManifest
from edge_app.settings import Settings
from engines.manifest import Manifest

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("edge-photo-search", "ray", "pyarrow", "onnxruntime", "openvino", "pillow")


@dataclass(frozen=True)
class PackOptions:
    photos: Path
    bundle: Path
    out: Path
    workers: int = 1  # encoder actors (one model each)
    ray_address: str | None = None  # None: start a local Ray with `local_cpus`
    local_cpus: int | None = None
    prefer: str | None = None  # "backend[:precision]", as EDGE_BACKEND on the box
    threads_per_worker: int | None = 1  # CPU threads of each encoder actor
    gpus_per_worker: float = 0.0  # >0: encoder actors ask Ray for GPUs (untested here)
    batch_size: int = 32
    shard_rows: int = 50_000
    box_root: str | None = None  # photos stay on a share the box sees at this path
    ocr: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS


def ensure_ray(address: str | None, num_cpus: int | None) -> None:
    """Join ``address`` or start a local Ray (workers import this checkout)."""
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
        return
    env = {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    ray.init(
        num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
        object_store_memory=512 * 1024 * 1024, runtime_env={"env_vars": env},
    )  # fmt: skip


def _check(opts: PackOptions) -> tuple[Manifest, list[dict[str, Any]]]:
    if (opts.out / MANIFEST_NAME).exists():
        raise BuildError(f"{opts.out} already holds a pack: choose a new --out folder")
    if opts.out.exists() and any(opts.out.iterdir()):
        raise BuildError(f"{opts.out} is not empty: choose a new --out folder")
    try:
        manifest = Manifest.load(opts.bundle)
    except Exception as exc:
        raise BuildError(f"cannot read the bundle {opts.bundle}: {exc}") from exc
    try:
        found = scan(opts.photos)
    except Exception as exc:
        raise BuildError(f"cannot read the photo folder {opts.photos}: {exc}") from exc
    items = [
        {
            "rel_path": f.rel_path,
            "abs_path": str(f.abs_path),
            "size": f.size,
            "mtime_ns": f.mtime_ns,
        }
        for f in found.files
    ]
    if not items:
        raise BuildError(f"no photos found in {opts.photos}")
    return manifest, items


def build_pack(opts: PackOptions) -> PackManifest:
    """Pack the photo folder; raises `BuildError` with what to fix."""
    import ray.data

    manifest, items = _check(opts)
    started = time.monotonic()
    ensure_ray(opts.ray_address, opts.local_cpus)
    ds = _pipeline(ray.data.from_items(items), opts, manifest)
    writer = PackWriter(
        opts.out, manifest.embedding_dim, opts.shard_rows,
        None if opts.box_root else opts.photos,
    )  # fmt: skip
    clock = _Clock()
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for row in row_dicts(batch):
            writer.add(row)
        clock.tick(batch)
    seconds = time.monotonic() - started
    done = writer.finish(
        pack_id=uuid.uuid4().hex, bundle_id=manifest.bundle_id,
        photos_mode=ROOT if opts.box_root else INCLUDED, root=opts.box_root,
        ocr_engine=_ocr_engine(manifest, opts), tools=tool_versions(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        stats={"seconds": round(seconds, 3), "workers": opts.workers,
               "photos_per_s": round(len(items) / seconds, 2), **clock.stats()},
    )  # fmt: skip
    log.info("pack %s: %s in %.1fs", opts.out, done.counts, seconds)
    return done


class _Clock:
    """Start-up (until the first encoder actor has loaded its model) apart from the rate.

    Actors stamp ``ready_at`` (wall clock) on their rows; photos / (last row written -
    first actor ready) is the rate without Ray's and the model's start-up (conservative
    with several workers: a later actor's start-up counts as time).
    """

    def __init__(self) -> None:
        self.started = time.time()
        self.driver_cpu = time.process_time()
        self.ready = float("inf")
        self.rows = 0
        self.worker_cpu = 0.0

    def tick(self, batch: dict[str, Any]) -> None:
        self.rows += len(batch["rel_path"])
        self.ready = min(self.ready, float(batch["ready_at"].min()))
        self.worker_cpu += float(batch["cpu_s"].sum())

    def stats(self) -> dict[str, float]:
        end = time.time()
        if not self.rows or end <= self.ready:
            return {}
        return {
            "startup_s": round(self.ready - self.started, 3),
            "steady_photos_per_s": round(self.rows / (end - self.ready), 2),
            "worker_cpu_s_per_photo": round(self.worker_cpu / self.rows, 4),
            "driver_cpu_s_per_photo": round((time.process_time() - self.driver_cpu) / self.rows, 4),
        }


def _pipeline(ds: Any, opts: PackOptions, manifest: Manifest) -> Any:
    bundle = str(opts.bundle.resolve())
    ds = ds.map_batches(
        decode_batch, batch_size=opts.batch_size, batch_format="numpy",
        fn_kwargs={"bundle_dir": bundle, "max_pixels": opts.max_pixels},
    )  # fmt: skip
    ds = ds.map_batches(
        EncodeStage, fn_constructor_args=(bundle, opts.prefer, opts.threads_per_worker),
        batch_size=opts.batch_size, batch_format="numpy", compute=_pool(opts.workers),
        num_cpus=opts.threads_per_worker or 1, num_gpus=opts.gpus_per_worker or None,
    )  # fmt: skip
    if _ocr_engine(manifest, opts):
        defaults = Settings()
        ocr_settings = {"det_side": defaults.ocr_det_side, "max_side": defaults.ocr_max_side,
                        "max_pixels": opts.max_pixels}  # fmt: skip
        ds = ds.map_batches(
            OcrStage, fn_constructor_args=(bundle, opts.prefer, ocr_settings),
            batch_size=opts.batch_size, batch_format="numpy", compute=_pool(opts.workers),
        )  # fmt: skip
    return ds


def _pool(workers: int) -> Any:
    from ray.data import ActorPoolStrategy

    return ActorPoolStrategy(size=workers)


def _ocr_engine(manifest: Manifest, opts: PackOptions) -> str | None:
    """The engine id the box's own OCR pass records (`run_ocr`), when OCR runs."""
    return manifest.ocr.source if (opts.ocr and manifest.ocr) else None


def tool_versions() -> dict[str, str]:
    out = {}
    for name in TOOLS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
