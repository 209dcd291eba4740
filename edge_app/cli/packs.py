"""``edge-app import-pack PACK``: add a library pack made by ``edge-build pack``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_app.settings import Settings

HELP = """\
Import a library pack (photos indexed on a Ray cluster by `edge-build pack`) without
encoding anything: checksums and bundle are verified first, then rows, vectors, OCR text
and thumbnails are added. Re-run after an interruption to resume.

  edge-build pack ~/Pictures --bundle BUNDLE --out /media/stick/pack   # on a host / cluster
  edge-app import-pack /media/stick/pack                                # on the box
  edge-app import-pack PACK --root-map /mnt/nas/photos                  # photos on a share
"""


def import_pack_args(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = HELP
    p.add_argument("pack", type=Path, help="the pack folder (holds pack.json)")
    p.add_argument(
        "--root-map", type=Path,
        help="where this box sees the photo share the pack was made over (packs made with "
        "--box-root; default: the path recorded in the pack)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def import_pack(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when the whole pack is in, 130 when stopped by a signal (re-run to resume)."""
    from edge_app.cli.exits import EXIT_INTERRUPTED, EXIT_OK, stop_on_signals
    from edge_app.context import AppContext
    from edge_app.indexing.progress import TqdmBar
    from edge_app.packs.importer import import_pack as run

    quiet = args.json or not sys.stderr.isatty()
    with (
        AppContext.open(settings) as ctx, stop_on_signals() as stop,
        TqdmBar("importing pack", disable=quiet) as bar,
    ):  # fmt: skip
        ctx.progress.add_listener(bar)
        report = run(ctx, args.pack, args.root_map, ctx.progress, stop)
    data = report.to_dict()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(
            f"pack {report.pack_id[:12]}: {report.added} added, {report.duplicates} duplicate(s) "
            f"skipped, {report.skipped_done} already imported, {report.failed_on_host} failed "
            f"on the packing host, in {report.seconds:.1f}s"
        )
        for path, reason in report.failures:
            print(f"  not in pack: {path}: {reason}")
    return EXIT_INTERRUPTED if report.stopped else EXIT_OK
