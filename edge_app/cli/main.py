"""``edge-app``: the command line of the appliance (the only module here that prints).

Every subcommand is a `Subcommand` in `SUBCOMMANDS`: a name, a help line, a function
that adds its arguments and a function ``run(args, settings) -> exit code``. To add one
(``serve``, ``import``, ``install``...), write those two small functions (import heavy
modules inside ``run``, so ``edge-app --help`` stays instant) and append one
`Subcommand` to the table; parsing, settings, logging and error handling are shared.
Global options (``--data-dir``, ``--bundle``, ``--config``, ``-v``) work before or after
the command name. A command that only reads the library sets ``needs_library=True``: it
then refuses a data dir without one (a typo must not silently create an empty library);
only commands that fill a library (index, import, serve, demo) may create it.

Domain errors become one clear line on stderr and an exit code (see `EXIT_CODES`); a
traceback is printed only for bugs. A closed stdout (``edge-app search ... | head``) ends
the command quietly with `EXIT_BROKEN_PIPE`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from edge_app.cli import appliance as appl
from edge_app.cli import faces as faces_cli
from edge_app.cli import ocr as ocr_cli
from edge_app.cli import roots as roots_cli
from edge_app.cli import tags as tags_cli
from edge_app.cli.options import check_data_dir, global_options, package_version, silence_stdout
from edge_app.errors import (
    ConfigError,
    EdgeError,
    NotFoundError,
    PathOutsideLibraryError,
    QueryError,
)
from edge_app.settings import Settings, load_settings

if TYPE_CHECKING:
    from edge_app.context import AppContext
    from edge_app.search.service import SearchResult

log = logging.getLogger("edge_app.cli.main")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_ENGINE, EXIT_NOT_FOUND = 0, 1, 2, 3, 4
EXIT_CONFIG, EXIT_INTERRUPTED = 78, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `yes | head`
#: Most specific first: the first matching class decides the exit code.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (ConfigError, EXIT_CONFIG),
    (PathOutsideLibraryError, EXIT_USAGE),
    (QueryError, EXIT_USAGE),
    (NotFoundError, EXIT_NOT_FOUND),
    (EdgeError, EXIT_ERROR),
)


@dataclass(frozen=True)
class Subcommand:
    """One ``edge-app NAME`` command (see the module docstring for how to add one)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Settings], int]
    needs_library: bool = False  # True: refuse a data dir without a library (read-only)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edge-app`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        settings = settings_from_args(args)
        check_data_dir(settings, args.subcommand.needs_library)
        code: int = args.subcommand.run(args, settings)
        sys.stdout.flush()  # a closed pipe shows up here at the latest, not at exit
        return code
    except BrokenPipeError:
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        mapped = _exit_code(exc)
        if mapped is None:
            raise
        _err(f"error: {exc}")
        return mapped


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-app",
        description="Offline photo search by meaning (CLIP) on this appliance.",
        parents=[global_options(after_command=False)],
    )
    parser.add_argument("--version", action="version", version=f"edge-app {package_version()}")
    subs = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    after = global_options(after_command=True)
    for sub in SUBCOMMANDS:
        p = subs.add_parser(sub.name, help=sub.help, description=sub.help, parents=[after])
        sub.add_arguments(p)
        p.set_defaults(subcommand=sub)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Defaults < TOML < EDGE_* < command-line flags (flags win)."""
    env = dict(os.environ)
    # Absolute: the library compares resolved paths, so "--data-dir d" must mean ./d.
    if args.data_dir is not None:
        env["EDGE_DATA_DIR"] = str(args.data_dir.expanduser().absolute())
    if args.bundle is not None:
        env["EDGE_BUNDLE_DIR"] = str(args.bundle.expanduser().absolute())
    return load_settings(args.config, env)


def _exit_code(exc: BaseException) -> int | None:
    from engines.errors import EngineError

    if isinstance(exc, EngineError):
        return EXIT_ENGINE
    if isinstance(exc, OSError) and exc.filename is not None:
        return EXIT_ERROR  # a path the user gave cannot be used: the message names it
    return next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), None)


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _out(text: str) -> None:
    print(text)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@contextmanager
def _open_context(settings: Settings) -> Iterator[AppContext]:
    from edge_app.context import AppContext

    ctx = AppContext.open(settings)
    try:
        yield ctx
    finally:
        ctx.close()


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl-C / SIGTERM ask the indexer to checkpoint instead of dying mid-batch."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        _err(f"{signal.Signals(signum).name}: finishing the current batch, then stopping")
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# ------------------------------------------------------------------------------ index
def _index_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", type=Path, help="folders/files inside a photo root")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _index(args: argparse.Namespace, settings: Settings) -> int:
    from edge_app.indexing.progress import TqdmBar

    paths = [p.resolve() for p in args.paths] or None
    quiet = args.json or not sys.stderr.isatty()
    with _open_context(settings) as ctx, _stop_on_signals() as stop, TqdmBar(disable=quiet) as bar:
        ctx.progress.add_listener(bar)
        report = ctx.index_library(paths, stop_event=stop)
    if args.json:
        _json(report.to_dict())
    else:
        _print_index_report(report.to_dict())
    return EXIT_INTERRUPTED if report.stopped else EXIT_OK


def _print_index_report(data: dict[str, Any]) -> None:
    keys = ("scanned", "encoded", "new", "changed", "moved", "reused", "deleted", "unchanged")
    _out(", ".join(f"{k} {data[k]}" for k in keys) + f" in {data['seconds']:.1f} s")
    for item in data["errors"]:
        _out(f"  not indexed: {item['path']}: {item['reason']}")
    if data["stopped"]:
        _out("stopped early; run `edge-app index` again to finish (nothing is lost)")


# ----------------------------------------------------------------------------- search
def _search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", nargs="?", default="", help='e.g. "a dog on a beach" - "people"')
    p.add_argument("--image", type=Path, help="find photos that look like this image")
    p.add_argument("--limit", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--json", action="store_true", help="print results as JSON")


def _search(args: argparse.Namespace, settings: Settings) -> int:
    if not args.query.strip() and args.image is None:
        raise QueryError("give a query text, --image FILE, or both")
    with _open_context(settings) as ctx:
        results = _run_search(ctx, args.query, args.image, args.limit)
    if args.json:
        _json({"query": args.query, "image": args.image, "results": _hits(results)})
        return EXIT_OK
    if not results:
        _out("no results (is the library indexed? try `edge-app status`)")
    for hit in results:
        _out(f"{hit.score:6.3f}  {hit.rel_path}")
    return EXIT_OK


def _run_search(ctx: AppContext, query: str, image: Path | None, limit: int) -> list[SearchResult]:
    """Text, image, or both (their unit vectors averaged, then re-normalised)."""
    import numpy as np

    from edge_app.indexing.imaging import decode_image
    from edge_app.search.query import parse_query

    if image is None:  # the full grammar, text: filters and OCR matches included
        return list(ctx.search.search(query, limit=limit))
    vectors = []
    if query.strip():
        vectors.append(ctx.search.query_vector(parse_query(query)))
    if image is not None:
        decoded = decode_image(
            image, ctx.encoder.image_size, max_pixels=ctx.settings.max_image_pixels
        )
        vectors.append(ctx.encoder.encode_images([decoded.image])[0])
    vector = np.sum(vectors, axis=0)
    vector = (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)
    return list(ctx.search.search_vector(vector, limit=limit))


def _hits(results: Sequence[SearchResult]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.photo_id,
            "score": round(r.score, 6),
            "path": r.rel_path,
            "folder": r.folder,
            "text_match": r.text_match,
        }
        for r in results
    ]


# ------------------------------------------------------------------------- duplicates
def _duplicates_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", type=float, help="cosine similarity (default from settings)")
    p.add_argument("--json", action="store_true", help="print groups as JSON")


def _duplicates(args: argparse.Namespace, settings: Settings) -> int:
    if args.threshold is not None and not 0.0 < args.threshold <= 1.0:
        raise QueryError(f"--threshold must be in (0, 1], got {args.threshold}")
    with _open_context(settings) as ctx:
        groups = ctx.search.duplicates(args.threshold)
        paths = {p.id: p.rel_path for g in groups for p in ctx.library.get_photos(list(g.ids))}
    data: list[dict[str, Any]] = [
        {"min_score": round(g.min_score, 6), "paths": [paths.get(i) for i in g.ids], "ids": g.ids}
        for g in groups
    ]
    if args.json:
        _json({"threshold": args.threshold or settings.duplicate_threshold, "groups": data})
        return EXIT_OK
    _out(f"{len(groups)} group(s) of near-duplicates")
    for group in data:
        _out(f"- {len(group['ids'])} photos (similarity >= {group['min_score']:.3f})")
        for path in group["paths"]:
            _out(f"    {path}")
    return EXIT_OK


# ----------------------------------------------------------------------------- status
def _status_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print status as JSON")


def _status(args: argparse.Namespace, settings: Settings) -> int:
    """Counts from SQLite and the bundle's manifest; loads no model (instant)."""
    data = status_data(settings)
    if args.json:
        _json(data)
        return EXIT_OK
    counts, bundle = data["photos"], data["bundle"]
    _out(f"library  {settings.library_dir}")
    indexed, pending, errors = counts["indexed"], counts["pending"], counts["error"]
    _out(f"photos   {indexed} indexed, {pending} pending, {errors} not indexable")
    if bundle is None:
        _out("bundle   none: run `edge-app demo`, or pass --bundle DIR")
    else:
        _out(f"bundle   {bundle['model']} ({bundle['id']}) {bundle['note']}".rstrip())
    _out(f"index    generation {data['index_generation']}")
    tags = data.get("tags") or {}
    _out(
        f"tags     {tags.get('tags', 0)} on {tags.get('tagged_photos', 0)} photos "
        f"({tags.get('labels', 0)} labels in {tags.get('sets', 0)} sets)"
    )
    for item in data["errors"]:
        _out(f"  not indexed: {item['path']}: {item['reason']}")
    return EXIT_OK


def status_data(settings: Settings) -> dict[str, Any]:
    """What `edge-app status` reports (also handy for scripts)."""
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
        data["tags"] = library.tag_totals()
        data["index_generation"] = library.index_generation()
        data["ocr"] = library.ocr_counts()
        data["errors"] = [
            {"path": p.rel_path, "reason": p.error_reason} for p in library.list_errors(limit=20)
        ]
    return data


# ------------------------------------------------------------------------------- demo
def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--photos", type=Path, help="your own photo folder (default: samples)")
    p.add_argument("--model", help="model to build when no bundle is set (default toy-shapes)")
    p.add_argument("--no-serve", action="store_true", help="stop after the example searches")
    appl.serve_args(p)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from edge_app.demo import run_demo
    from edge_app.indexing.progress import TqdmBar

    with TqdmBar(disable=not sys.stderr.isatty()) as bar:
        result = run_demo(settings, args.photos, args.model, say=_out, on_progress=bar)
    for search in result.searches:
        _out(f'\nsearch "{search.query}":')
        for hit in search.hits:
            _out(f"  {hit.score:6.3f}  {hit.rel_path}")
    used = result.settings
    _out(f"\nlibrary: {used.library_dir}\nbundle:  {used.bundle_dir}\ntry:")
    _out(f'  edge-app --data-dir {used.data_dir} --bundle {used.bundle_dir} search "a blue square"')
    if args.no_serve:
        return EXIT_OK
    return appl.run_server(appl.with_listen_overrides(args, used), _out, True, args.verbose)


SUBCOMMANDS: list[Subcommand] = [
    Subcommand("index", "index new, changed, moved and deleted photos", _index_args, _index),
    Subcommand(
        "search", "search photos by meaning (text and/or image)", _search_args, _search, True
    ),
    Subcommand("tags", "zero-shot tags: label sets, re-tagging", tags_cli.tags_args, tags_cli.tags),
    Subcommand(
        "duplicates", "list groups of near-duplicate photos", _duplicates_args, _duplicates, True
    ),
    Subcommand(
        "status", "library, bundle and index status (loads no model)", _status_args, _status, True
    ),
    Subcommand(
        "roots",
        "list, add or remove photo roots (indexed in place)",
        roots_cli.roots_args,
        roots_cli.roots,
    ),
    Subcommand("ocr", "read the text in indexed photos (OCR)", ocr_cli.ocr_args, ocr_cli.ocr),
    Subcommand("faces", "People: find, group and name faces (opt-in)", faces_cli.faces_args,
               faces_cli.faces),  # fmt: skip
    Subcommand("demo", "build a toy model if needed, index samples, search", _demo_args, _demo),
    Subcommand(
        "serve",
        "run the daemon: web UI, API and indexer",
        appl.serve_args,
        lambda a, s: appl.serve(a, s, _out),
    ),
    Subcommand(
        "import",
        "copy photos from a folder or USB stick and index",
        appl.import_args,
        lambda a, s: appl.import_(a, s, _out),
    ),
    Subcommand(
        "install",
        "install the systemd units, udev rule, user and directories",
        appl.install_args,
        lambda a, s: appl.install(a, s, _out),
    ),
    Subcommand(
        "uninstall",
        "remove what install added (--purge: data too)",
        appl.uninstall_args,
        lambda a, s: appl.uninstall(a, s, _out),
    ),
]
