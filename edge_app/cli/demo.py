"""``edge-app demo``: the toy model (or a given bundle), sample photos, example searches,
then the web UI unless ``--no-serve``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_app.cli import appliance as appl
from edge_app.cli.exits import EXIT_OK
from edge_app.settings import Settings


def demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--photos", type=Path, help="your own photo folder (default: samples)")
    p.add_argument(
        "--model",
        help="build this model's bundle now (needs the builder, torch); default: the pre-built "
        "toy-shapes bundle",
    )
    p.add_argument("--no-serve", action="store_true", help="stop after the example searches")
    appl.serve_args(p)


def demo(args: argparse.Namespace, settings: Settings) -> int:
    from edge_app.demo import run_demo
    from edge_app.indexing.progress import TqdmBar

    with TqdmBar(disable=not sys.stderr.isatty()) as bar:
        result = run_demo(settings, args.photos, args.model, say=print, on_progress=bar)
    for search in result.searches:
        print(f'\nsearch "{search.query}":')
        for hit in search.hits:
            print(f"  {hit.score:6.3f}  {hit.rel_path}")
    used = result.settings
    print(f"\nlibrary: {used.library_dir}\nbundle:  {used.bundle_dir}\ntry:")
    print(
        f'  edge-app --data-dir {used.data_dir} --bundle {used.bundle_dir} search "a blue square"'
    )
    if args.no_serve:
        return EXIT_OK
    return appl.run_server(appl.with_listen_overrides(args, used), print, True, args.verbose)
