"""``edge-app status``: counts from SQLite and the bundle's manifest (loads no model)."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from edge_app.cli.appliance import tls_lines
from edge_app.cli.enrich import ocr_library_sentence
from edge_app.cli.exits import EXIT_OK
from edge_app.settings import Settings

log = logging.getLogger(__name__)


def status_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print status as JSON")


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    """Counts from SQLite and the bundle's manifest; loads no model (instant)."""
    data = status_data(settings)
    if args.json:
        print(json.dumps(data, indent=2, default=str, ensure_ascii=False))
        return EXIT_OK
    counts, bundle = data["photos"], data["bundle"]
    print(f"library  {settings.library_dir}")
    indexed, pending, errors = counts["indexed"], counts["pending"], counts["error"]
    print(f"photos   {indexed} indexed, {pending} pending, {errors} not indexable")
    if bundle is None:
        print("bundle   none: run `edge-app demo`, or pass --bundle DIR")
    else:
        print(f"bundle   {bundle['model']} ({bundle['id']}) {bundle['note']}".rstrip())
    print(f"index    generation {data['index_generation']}")
    tags = data.get("tags") or {}
    print(
        f"tags     {tags.get('tags', 0)} on {tags.get('tagged_photos', 0)} photos "
        f"({tags.get('labels', 0)} labels in {tags.get('sets', 0)} sets), "
        f"{tags.get('waiting_sets', 0)} label sets waiting to be tagged"
    )
    print("text     " + ocr_library_sentence(data.get("ocr") or {}))
    for item in data["errors"]:
        print(f"  not indexed: {item['path']}: {item['reason']}")
    for line in tls_lines(settings):
        print(line)
    return EXIT_OK


def status_data(settings: Settings) -> dict[str, Any]:
    """What `edge-app status` reports (also handy for scripts)."""
    from edge_app.enrich.passes import tag_progress
    from edge_app.library.store import Library
    from engines.errors import BundleError
    from engines.manifest import Manifest

    data: dict[str, Any] = {"data_dir": str(settings.data_dir), "bundle": None}
    try:
        manifest = Manifest.load(settings.bundle_dir)
        data["bundle"] = {
            "id": manifest.bundle_id,
            "model": manifest.model.id,
            "note": manifest.model.note,
        }
    except BundleError as exc:
        log.info("no usable bundle: %s", exc)
    if not settings.db_path.is_file():
        return {
            **data,
            "photos": {"indexed": 0, "pending": 0, "error": 0},
            "index_generation": 0,
            "errors": [],
        }
    with Library.open_reader(settings.db_path) as library:
        data["photos"] = library.counts_by_status()
        bundle_id = data["bundle"]["id"] if data["bundle"] else None
        data["tags"] = tag_progress(library, bundle_id, settings.tag_builtin_sets)
        data["index_generation"] = library.index_generation()
        data["ocr"] = library.ocr_counts()
        data["errors"] = [
            {"path": p.rel_path, "reason": p.error_reason} for p in library.list_errors(limit=20)
        ]
    return data
