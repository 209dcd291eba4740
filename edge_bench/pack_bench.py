"""`edge-bench pack`: what Ray costs per worker, 1 vs 2 workers, and a 100k-photo import.

Measured side by side in one run, on the same generated photos and bundle:

1. encoder only: `engines.open(bundle, threads=1).encode_pixels` on pre-decoded pixels
   (the box's own encoder rate on one core, the issue's reference);
2. in-process decode + encode on one core, no Ray (what a Ray worker does, minus Ray);
3. `build_pack` on a local Ray with 1 and 2 encoder workers (1 thread each), the pack
   written by the driver as in production; Ray's start-up is timed apart.

Ray overhead = 1 - (pack photos/s per worker) / (in-process decode + encode photos/s).
The import part synthesises a pack's rows (random unit vectors as embeddings, a small
distinct JPEG as each thumbnail, photos left on a "share" of which only the sampled
files exist) and imports it with a real ``edge-app import-pack`` process, timing it and
reading its peak RSS; the import speed does not depend on what the vectors mean.
"""

from __future__ import annotations

import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge_bench.report import results_markdown

Log = Callable[[str], None]
REPO = Path(__file__).resolve().parents[1]


def _photos(folder: Path, n: int, side: int) -> list[Path]:
    from build_engines.shapes import write_folder

    return [p for p, _ in write_folder(folder, n=n, seed=5, size=(side * 4 // 3, side))]


def _in_process(bundle: Path, photos: list[Path], batch: int) -> dict[str, float]:
    """Encoder-only and decode+encode rates on one thread, no Ray."""
    import engines
    from edge_app.indexing.pipeline import decode_file
    from edge_app.indexing.scanner import ScannedFile

    with engines.open(bundle, threads=1) as enc:
        t0, c0 = time.perf_counter(), time.process_time()
        pixels = []
        for p in photos:
            item = ScannedFile(p.name, p, p.stat().st_size, p.stat().st_mtime_ns)
            _, decoded = decode_file(item, enc.image_size, 10**9)
            assert not isinstance(decoded, str)
            pixels.append(enc.preprocess(decoded.image))
        decode_s, decode_cpu = time.perf_counter() - t0, time.process_time() - c0
        x = np.stack(pixels)
        enc.encode_pixels(x[:batch])  # warm-up
        t1, c1 = time.perf_counter(), time.process_time()
        for i in range(0, len(x), batch):
            enc.encode_pixels(x[i : i + batch])
        encode_s, encode_cpu = time.perf_counter() - t1, time.process_time() - c1
        engine = enc.image_runner.describe()
    n = len(photos)
    return {
        "encoder_only_per_s": round(n / encode_s, 2),
        "decode_encode_per_s": round(n / (decode_s + encode_s), 2),
        "decode_share": round(decode_s / (decode_s + encode_s), 3),
        "encode_cpu_s_per_photo": round(encode_cpu / n, 4),
        "decode_encode_cpu_s_per_photo": round((decode_cpu + encode_cpu) / n, 4),
        "engine": f"{engine['backend']}:{engine['precision']}",  # type: ignore[dict-item]
    }


def _ray_runs(
    bundle: Path, folder: Path, workers: tuple[int, ...], batch: int, log: Log
) -> dict[str, Any]:
    from build_engines.pack.run import PackOptions, build_pack, ensure_ray

    t0 = time.perf_counter()
    ensure_ray(None, 2)
    out: dict[str, Any] = {"ray_start_s": round(time.perf_counter() - t0, 2), "runs": []}
    for n in workers:
        with tempfile.TemporaryDirectory() as tmp:
            t1 = time.perf_counter()
            m = build_pack(
                PackOptions(folder, bundle, Path(tmp) / "pack", workers=n, batch_size=batch)
            )
            seconds = time.perf_counter() - t1
        rate = m.stats.get("steady_photos_per_s", m.counts["photos"] / seconds)
        log(f"pack with {n} worker(s): {rate:.2f} photos/s steady, {m.stats}")
        out["runs"].append({"workers": n, "seconds": round(seconds, 2),
                            "startup_s": m.stats.get("startup_s"),
                            "photos_per_s": round(rate, 2), "per_worker_per_s": round(rate / n, 2),
                            "worker_cpu_s_per_photo": m.stats.get("worker_cpu_s_per_photo"),
                            "driver_cpu_s_per_photo": m.stats.get("driver_cpu_s_per_photo"),
                            "load_avg": os.getloadavg()[0]})  # fmt: skip
    return out


def run_pack_bench(
    bundle: Path, photos: int, side: int, workers: tuple[int, ...], import_sizes: tuple[int, ...],
    batch: int, log: Log,
) -> dict[str, Any]:  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        files = _photos(folder, photos, side)
        box = _in_process(bundle, files, batch)
        log(f"in process, 1 thread: {box}")
        ray = _ray_runs(bundle, folder, workers, batch, log)
    one = next((r for r in ray["runs"] if r["workers"] == 1), ray["runs"][0])
    overhead = 1 - one["per_worker_per_s"] / box["decode_encode_per_s"]
    cpu = (one["worker_cpu_s_per_photo"] or 0) + (one["driver_cpu_s_per_photo"] or 0)
    cpu_overhead = cpu / box["decode_encode_cpu_s_per_photo"] - 1
    imports = [run_import(bundle, n, log) for n in import_sizes if n > 0]  # 0: pack only
    return {"results": {
        "photos": photos, "photo_size": f"{side * 4 // 3}x{side}", "box": box, "ray": ray,
        "ray_overhead": round(overhead, 3), "ray_cpu_overhead": round(cpu_overhead, 3),
        "pack_vs_encoder_only": round(one["per_worker_per_s"] / box["encoder_only_per_s"], 3),
        "imports": imports,
    }}  # fmt: skip


def _thumb_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (256, 192), (90, 120, 200)).save(out, "JPEG", quality=85)
    return out.getvalue()


def synth_pack(bundle: Path, out: Path, n: int, prefer: str | None) -> Path:
    """A pack of ``n`` synthetic rows in root mode over a share holding the sampled files."""
    import engines
    from build_engines.pack.writer import PackWriter
    from edge_app.packs.format import ROOT

    with engines.open(bundle, prefer=prefer) as enc:
        info, bundle_id, dim = enc.image_runner.describe(), enc.bundle_id, enc.dim
    share = out.parent / "share"
    share.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    base = _thumb_jpeg()
    writer = PackWriter(out, dim, shard_rows=50_000)
    for i in range(n):
        rel = f"f{i // 1000:04d}/p{i:07d}.jpg"
        if i < 64:
            (share / rel).parent.mkdir(parents=True, exist_ok=True)
            (share / rel).write_bytes(base)
        vec = rng.standard_normal(dim).astype(np.float32)
        sha = f"{i:064x}"
        meta = {"rel_path": rel, "size": len(base), "mtime_ns": 1_700_000_000_000_000_000 + i,
                "sha256": sha, "width": 4032, "height": 3024, "taken_at": None,
                "camera_make": "Bench", "camera_model": "Synth", "gps_lat": None,
                "gps_lon": None, "orientation": 1}  # fmt: skip
        writer.add({"meta": meta, "thumb": base + i.to_bytes(8, "big"), "error": "",
                    "embedding": vec / np.linalg.norm(vec), "engine":
                    f"{info['backend']}:{info['precision']}", "ocr_state": None,
                    "ocr_lines": []})  # fmt: skip
    writer.finish(pack_id=f"bench{n}", bundle_id=bundle_id, photos_mode=ROOT, root=str(share))
    return out


def run_import(bundle: Path, n: int, log: Log) -> dict[str, Any]:
    """Synthesise, then time a real `edge-app import-pack` process and read its peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        pack = synth_pack(bundle, Path(tmp) / "pack", n, None)
        synth_s = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in pack.rglob("*") if p.is_file()) / 1e6
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "edge_app", "--data-dir", f"{tmp}/box", "--bundle",
               str(bundle), "import-pack", str(pack), "--json"]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t1 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
        seconds = time.perf_counter() - t1
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss = after.ru_maxrss
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if proc.returncode != 0:
            raise ValueError(f"import-pack failed: {proc.stderr[-2000:]}")
        shutil.rmtree(f"{tmp}/box", ignore_errors=True)
    row = {"photos": n, "seconds": round(seconds, 2), "photos_per_s": round(n / seconds),
           "cpu_seconds": round(cpu, 1), "load_avg": os.getloadavg()[0],
           "peak_rss_mb": round(rss / 1024) if rss > before.ru_maxrss else None,
           "pack_mb": round(size_mb, 1), "synth_seconds": round(synth_s, 1)}  # fmt: skip
    log(f"import of {n}: {row}")
    return row


def pack_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    r = payload["results"]
    box = r["box"]
    rows: list[list[Any]] = [
        ["box encoder only (1 thread, pre-decoded)", 1, box["encoder_only_per_s"],
         box["encoder_only_per_s"], box["encode_cpu_s_per_photo"]],
        ["box decode + encode in process (1 thread)", 1, box["decode_encode_per_s"],
         box["decode_encode_per_s"], box["decode_encode_cpu_s_per_photo"]],
    ]  # fmt: skip
    rows += [
        [f"edge-build pack, local Ray, {x['workers']} worker(s)", x["workers"], x["photos_per_s"],
         x["per_worker_per_s"],
         f"{x['worker_cpu_s_per_photo']} worker + {x['driver_cpu_s_per_photo']} driver"]
        for x in r["ray"]["runs"]
    ]  # fmt: skip
    imports = "\n".join(
        f"| {i['photos']:,} | {i['seconds']} | {i['cpu_seconds']} | {i['photos_per_s']:,} | "
        f"{i['peak_rss_mb']} | {i['pack_mb']} | {i['load_avg']:.1f} |"
        for i in r["imports"]
    )
    notes = [
        f"{r['photos']} generated {r['photo_size']} JPEGs, image tower {box['engine']}, decode is "
        f"{box['decode_share']:.0%} of the in-process time. Ray start-up (not in the rates): "
        f"{r['ray']['ray_start_s']} s. **Ray overhead in CPU per photo (1 worker): "
        f"{r['ray_cpu_overhead']:.1%}** (worker + driver CPU per photo / in-process decode + "
        f"encode CPU per photo - 1; Ray's own daemons not counted). Wall-clock rates on this "
        f"shared, loaded machine: pack per worker / in-process decode + encode = "
        f"{1 - r['ray_overhead']:.2f}, / encoder-only = {r['pack_vs_encoder_only']:.2f}.",
        "## Import of a synthetic pack (`edge-app import-pack`, real process)\n\n"
        "Rows synthesised: random unit vectors as embeddings, a small distinct JPEG per "
        "thumbnail, photos left on a share (root mode: no photo bytes copied). Time includes "
        "process start, bundle load, verifying every shard and thumbnail checksum, writing "
        "thumbnails, SQLite and the FAISS index.\n\n"
        "| photos | wall s | CPU s | photos/s | peak RSS MB | pack MB | load avg |\n"
        "|---|---|---|---|---|---|---|\n" + imports,
    ]
    return results_markdown(
        "edge-bench pack", payload, "Packing on Ray vs the box's own encoder, and import.",
        ["path", "workers", "photos/s", "per worker", "CPU s / photo"], rows, charts, notes=notes,
    )  # fmt: skip
