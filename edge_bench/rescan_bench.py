"""Memory of one full rescan: `Indexer.run` over an unchanged library of N photos.

Why its own tool: `edge-bench daemon` sees the rescan only inside the daemon's RSS; this
measures it alone (peak RSS growth of the run in this process, ``ru_maxrss``), so the
code before and after a change can be compared side by side:
``edge-bench rescan --photos 100k --work DIR`` (the library is built on the first run;
this file alone also runs against older code, e.g. `run_rescan` with ``PYTHONPATH``
pointing at a checkout from before a change).

Rows carry 16-dimension embeddings and one tiny JPEG hard-linked per row (the scan does
not read files whose size and mtime match): nothing is decoded or encoded.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

DIM = 16
PER_FOLDER = 1000
LINKS_PER_FILE = 50_000  # ext4 allows 65,000 hard links per inode


class _NoEncoder:
    """Stands in for the model: an unchanged library encodes nothing (it would raise)."""

    bundle_id = "rescan-bench"
    image_size = 32
    dim = DIM

    def preprocess(self, img: Image.Image) -> np.ndarray:
        raise AssertionError("a rescan of an unchanged library decoded a photo")

    def encode_pixels(self, x: np.ndarray) -> np.ndarray:
        raise AssertionError("a rescan of an unchanged library encoded a photo")


def build(data_dir: Path, n: int) -> None:
    """N rows with embeddings and their files (hard links to a few tiny JPEGs)."""
    from edge_app.library.records import PhotoMeta
    from edge_app.library.store import Library

    settings = _settings(data_dir)
    settings.ensure_dirs()
    metas = []
    for i in range(n):
        path = settings.library_dir / f"{i // PER_FOLDER:04d}" / f"IMG_{i:07d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        os.link(_seed(data_dir, i), path)
        st = path.stat()
        rel = path.relative_to(settings.library_dir).as_posix()
        metas.append(PhotoMeta(rel, st.st_size, st.st_mtime_ns, f"{i:064x}"))
    vector = np.full(DIM, DIM**-0.5, np.float32)
    with Library(settings.db_path) as library:
        for start in range(0, n, 5000):
            chunk = metas[start : start + 5000]
            library.record_photos([(m, vector) for m in chunk], _NoEncoder.bundle_id)


def measure(data_dir: Path) -> dict[str, Any]:
    """Peak RSS growth (MB) and time of one full rescan, after the index is open."""
    from edge_app.indexing.pipeline import Indexer
    from edge_app.library.store import Library

    try:
        from edge_app.search.index_store import IndexStore
    except ImportError:  # the code before the store moved out of vector_index
        from edge_app.search.vector_index import IndexStore  # type: ignore[attr-defined,no-redef]

    settings = _settings(data_dir)
    with Library(settings.db_path) as library:
        store = IndexStore(settings.index_dir, ann_threshold=10**9)
        store.open(library, _NoEncoder.bundle_id, DIM)
        before, started = _rss_mb(), time.monotonic()
        report = Indexer(settings, library, store, _NoEncoder()).run()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {
            "photos": report.scanned,
            "unchanged": report.unchanged,
            "rss_before_mb": round(before, 1),
            "peak_growth_mb": round(peak - before, 1),
            "rss_after_mb": round(_rss_mb(), 1),
            "seconds": round(time.monotonic() - started, 1),
        }


def _settings(data_dir: Path) -> Any:
    from edge_app.settings import Settings

    return Settings(data_dir=data_dir, bundle_dir=data_dir / "no-bundle", decode_workers=1)


def _seed(data_dir: Path, i: int) -> Path:
    seed = data_dir / f"seed-{i // LINKS_PER_FILE}.jpg"
    if not seed.exists():
        Image.new("RGB", (32, 32), "red").save(seed)
    return seed


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_rescan(work: Path, photos: int) -> dict[str, Any]:
    """Build the library in ``work`` once, then measure one full rescan of it."""
    from edge_bench.machine import machine_info

    if not (work / "built").is_file():  # in a child: its memory must not count here
        child = multiprocessing.get_context("spawn").Process(target=build, args=(work, photos))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise ValueError(f"building the library in {work} failed (exit {child.exitcode})")
        (work / "built").write_text(str(photos), encoding="utf-8")
    return {"rescan": measure(work), "machine": machine_info()}


def rescan_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    """The report: one row, and the machine it ran on."""
    from edge_bench.report import machine_section

    r = payload["rescan"]
    return "\n".join([
        "# Full rescan of an unchanged library: memory", "",
        "`Indexer.run` over N photos whose size and mtime match their rows (nothing decoded).",
        "", "| photos | RSS before MB | peak growth MB | RSS after MB | seconds |",
        "|---|---|---|---|---|",
        f"| {r['photos']} | {r['rss_before_mb']} | {r['peak_growth_mb']} | "
        f"{r['rss_after_mb']} | {r['seconds']} |", "",
        machine_section(payload["machine"]), "",
    ])  # fmt: skip
