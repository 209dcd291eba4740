"""``edge-app ocr``: read the text in indexed photos (the OCR enrichment pass)."""

from __future__ import annotations

import argparse
import json
import sys

from edge_app.cli.enrich import ocr_library_sentence, ocr_run_sentences
from edge_app.cli.exits import EXIT_INTERRUPTED, EXIT_OK, stop_on_signals
from edge_app.settings import Settings


def ocr_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=int, help="read at most this many photos, then stop")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--status", action="store_true", help="only print the OCR counts")


def ocr(args: argparse.Namespace, settings: Settings) -> int:
    """Run the pass on photos not read yet; exit 0 (130 when stopped by a signal)."""
    from edge_app.enrich.ocr_pass import run_ocr
    from edge_app.indexing.progress import TqdmBar
    from edge_app.library.store import Library

    with Library(settings.db_path) as library:
        if args.status:
            counts = library.ocr_counts()
            print(json.dumps(counts) if args.json else ocr_library_sentence(counts))
            return EXIT_OK
        quiet = args.json or not sys.stderr.isatty()
        with stop_on_signals() as stop, TqdmBar("reading text", disable=quiet) as bar:
            from edge_app.indexing.progress import Progress

            progress = Progress()
            progress.add_listener(bar)
            report = run_ocr(settings, library, progress, stop, args.limit)
        counts = library.ocr_counts()
    data = {**report.to_dict(), "library": counts}
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for line in [*ocr_run_sentences(report), ocr_library_sentence(counts)]:
            print(line)
    return EXIT_INTERRUPTED if report.stopped else EXIT_OK
