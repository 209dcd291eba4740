"""`edge-bench watch`: rescans of an unchanged photo root, and watch-to-searchable latency.

Why these two numbers: a watched appliance rescans whole roots (start-up, polling
fallback, a root coming back online), so a no-change rescan must cost a ``stat`` per
file, not a decode; and "a new photo shows up by itself" is only useful if it shows up
soon. Both are measured through the daemon's real parts: `AppContext`, the indexer, the
job queue and the watchdog-based `RootWatcher` (inotify), on tiny generated JPEGs in a
root outside the data dir.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edge_bench.pipeline_bench import Log
from edge_bench.report import results_markdown


def _write_tiny(folder: Path, n: int, seed: int) -> None:
    """``n`` distinct 16x16 JPEGs, 100 per folder, dated an hour ago (settled)."""
    rng = np.random.default_rng(seed)
    old = time.time() - 3600
    for i in range(n):
        path = folder / f"d{i // 100:03d}" / f"p{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path, "JPEG")
        os.utime(path, (old, old))


def _timed(ctx: Any, repeats: int) -> tuple[list[float], Any]:
    times, report = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        report = ctx.index_library()
        times.append(time.perf_counter() - t0)
    return times, report


def _row(name: str, times: list[float], report: Any, note: str) -> dict[str, Any]:
    return {
        "name": name,
        "runs": len(times),
        "median_s": round(statistics.median(times), 4),
        "max_s": round(max(times), 4),
        "unchanged": report.unchanged,
        "encoded": report.encoded,
        "note": note,
    }


def _latency(ctx: Any, root: Path, samples: int, log: Log) -> list[float]:
    """Write a finished photo into the watched root; time until search can return it."""
    from edge_app.appliance.daemon import JobQueue
    from edge_app.library.roots import to_key
    from edge_app.watch.service import WatchService

    watch = WatchService(ctx)
    jobs = JobQueue(watch.handlers(), threading.Event())
    worker = threading.Thread(target=jobs.run_worker, daemon=True)
    worker.start()
    watch.start(jobs.submit)
    rid = next(r.id for r in ctx.library.list_roots() if r.path == root.resolve())
    out: list[float] = []
    try:
        for i in range(samples):
            tmp = root.parent / f"new{i}.jpg"
            pixels = np.random.default_rng(10_000 + i).integers(0, 255, (64, 64, 3), np.uint8)
            Image.fromarray(pixels).save(tmp, "JPEG")
            t0 = time.perf_counter()
            tmp.rename(root / "incoming" / tmp.name)  # appears complete, like an rsync
            out.append(_until_searchable(ctx, to_key(rid, f"incoming/{tmp.name}"), t0))
            log(f"  watch -> searchable: {out[-1]:.2f} s")
    finally:
        watch.close()
        jobs.close()
        worker.join(timeout=60)
    return out


def _until_searchable(ctx: Any, key: str, t0: float, timeout: float = 120.0) -> float:
    while time.perf_counter() - t0 < timeout:
        photo = ctx.reader.find_by_rel_path(key)
        if photo is not None and photo.id in set(ctx.store.current().ids().tolist()):
            return time.perf_counter() - t0
        time.sleep(0.02)
    raise TimeoutError(f"{key} was not searchable after {timeout} s")


def run_watch(
    bundle: Path, prefer: str | None, photos: int, repeats: int, samples: int, log: Log
) -> dict[str, Any]:
    from edge_app.context import AppContext
    from edge_app.settings import Settings

    with tempfile.TemporaryDirectory(prefix="edge-bench-watch-") as tmp:
        root = Path(tmp) / "nas"
        log(f"writing {photos} tiny JPEGs into {root}")
        _write_tiny(root, photos, seed=3)
        (root / "incoming").mkdir()
        settings = Settings(
            data_dir=Path(tmp) / "data", bundle_dir=bundle, backend_prefer=prefer,
            library_roots=(root,),
        )  # fmt: skip
        with AppContext.open(settings) as ctx:
            first, report = _timed(ctx, 1)
            rows = [_row("first index", first, report, "decode + encode every file")]
            log(f"first index: {first[0]:.1f} s")
            times, report = _timed(ctx, repeats)
            rows.append(_row("no-change rescan", times, report, "stat only: size + mtime"))
            newer = time.time() - 600
            for path in root.rglob("*.jpg"):
                os.utime(path, (newer, newer))
            times, report = _timed(ctx, 1)
            rows.append(_row("mtime-only rescan", times, report, "sha256 of each, no decode"))
            latency = _latency(ctx, root, samples, log)
    return {
        "rescans": rows,
        "latency_s": [round(x, 3) for x in latency],
        "latency_median_s": round(statistics.median(latency), 3),
        "watch_settle_s": settings.watch_settle_s,
    }


def watch_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    rows = [
        [r["name"], r["runs"], r["median_s"], r["max_s"], r["unchanged"], r["encoded"], r["note"]]
        for r in payload["rescans"]
    ]
    rows.append(
        ["watch -> searchable (one new photo)", len(payload["latency_s"]),
         payload["latency_median_s"], max(payload["latency_s"]), "", "",
         f"includes the {payload['watch_settle_s']} s settle time (debounce)"]
    )  # fmt: skip
    intro = (
        f"A photo root of {payload['config']['photos']} tiny JPEGs outside the data dir, "
        "indexed in place. Measured on a shared, loaded machine (other jobs running "
        "concurrently): compare rows of this run with each other, not absolute times."
    )
    head = ["what", "runs", "median s", "max s", "unchanged", "encoded", "note"]
    return results_markdown("Photo roots: rescans and watching", payload, intro, head, rows, charts)
