"""Arguments and the run of ``edge-build pack`` (kept apart from the bundle commands)."""

from __future__ import annotations

import argparse
from pathlib import Path

PACK_HELP = """\
Index a photo folder on a Ray cluster (or a local Ray) into a library pack that boxes
import without encoding (`edge-app import-pack`). Needs the [cluster] extra (ray[data]).

  edge-build pack ~/Pictures --bundle BUNDLE --out PACK --workers 2       # local Ray
  edge-build pack /mnt/nas/photos --bundle BUNDLE --out PACK --ray-address auto \\
      --box-root /mnt/nas/photos                     # photos stay on the share boxes see
  edge-app import-pack PACK                          # on each box
"""


def add_pack_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pk = sub.add_parser(
        "pack", help="index photos on Ray into a library pack", description=PACK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    pk.add_argument("photos", type=Path, help="photo folder (local, NFS or SMB mount)")
    pk.add_argument("--bundle", required=True, type=Path, help="the boxes' engine bundle")
    pk.add_argument("--out", required=True, type=Path, help="new pack folder to write")
    pk.add_argument("--workers", type=int, default=1, help="encoder actors (default 1)")
    pk.add_argument("--ray-address", help="join this Ray cluster (e.g. auto); default: local")
    pk.add_argument("--local-cpus", type=int, help="CPUs of the local Ray (default: all)")
    pk.add_argument("--prefer", help="BACKEND[:PRECISION] as the box runs it (EDGE_BACKEND)")
    pk.add_argument("--threads-per-worker", type=int, default=1, help="CPU threads per actor")
    pk.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs per encoder actor")
    pk.add_argument("--batch-size", type=int, default=32)
    pk.add_argument("--shard-rows", type=int, default=50_000, help="rows per Parquet shard")
    pk.add_argument(
        "--box-root",
        help="leave the photos where they are: the folder as the boxes see it (default: "
        "copy them into the pack)",
    )
    pk.add_argument("--no-ocr", action="store_true", help="skip OCR even if the bundle has it")


def run_pack(args: argparse.Namespace) -> int:
    from build_engines.pack.run import PackOptions, build_pack

    manifest = build_pack(
        PackOptions(
            photos=args.photos, bundle=args.bundle, out=args.out, workers=args.workers,
            ray_address=args.ray_address, local_cpus=args.local_cpus, prefer=args.prefer,
            threads_per_worker=args.threads_per_worker, gpus_per_worker=args.gpus_per_worker,
            batch_size=args.batch_size, shard_rows=args.shard_rows, box_root=args.box_root,
            ocr=not args.no_ocr,
        )
    )  # fmt: skip
    c = manifest.counts
    print(
        f"pack {args.out}: {c['photos']} photos, {c['failed']} failed, {c['ocr_text']} with "
        f"text, {len(manifest.shards)} shard(s), {manifest.image_backend}:"
        f"{manifest.image_precision}, {manifest.stats.get('photos_per_s', 0)} photos/s"
    )
    for path, reason in manifest.failures:
        print(f"  failed: {path}: {reason}")
    return 0
