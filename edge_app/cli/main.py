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
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_app.cli import account as account_cli
from edge_app.cli import appliance as appl
from edge_app.cli import demo as demo_cli
from edge_app.cli import enrich as enrich_cli
from edge_app.cli import faces as faces_cli
from edge_app.cli import ocr as ocr_cli
from edge_app.cli import packs as packs_cli
from edge_app.cli import roots as roots_cli
from edge_app.cli import tags as tags_cli
from edge_app.cli import tls as tls_cli
from edge_app.cli.exits import (
    EXIT_BROKEN_PIPE,
    EXIT_CONFIG,
    EXIT_ENGINE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    stop_on_signals,
)
from edge_app.cli.options import check_data_dir, global_options, package_version, silence_stdout
from edge_app.cli.status import status_args, status_command
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


# ------------------------------------------------------------------------------ index
def _index_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", type=Path, help="folders/files inside a photo root")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    enrich_cli.enrich_args(p)


def _index(args: argparse.Namespace, settings: Settings) -> int:
    """Index, then tag and read the text like the daemon does (unless --no-tags/--no-ocr)."""
    from edge_app.indexing.progress import TqdmBar

    paths = [p.resolve() for p in args.paths] or None
    quiet = args.json or not sys.stderr.isatty()
    with _open_context(settings) as ctx, stop_on_signals() as stop:
        with TqdmBar(disable=quiet) as bar:
            ctx.progress.add_listener(bar)
            report = ctx.index_library(paths, stop_event=stop)
        choice = enrich_cli.choice_from_args(args)
        enriched = None if stop.is_set() else enrich_cli.run_enrich(ctx, choice, stop, quiet)
        counts = ctx.library.ocr_counts()
    stopped = report.stopped or stop.is_set()
    if args.json:
        _json({**report.to_dict(), "enrichment": enriched and enriched.to_dict(), "ocr": counts})
    else:
        _print_index_report(report.to_dict())
        for line in enrich_cli.enrich_sentences(enriched, counts) if enriched else []:
            _out(line)
    return EXIT_INTERRUPTED if stopped else EXIT_OK


def _print_index_report(data: dict[str, Any]) -> None:
    changes = ", ".join(f"{data[k]} {k}" for k in ("new", "changed", "moved", "deleted"))
    _out(
        f"Indexed {data['scanned']} files in {data['seconds']:.1f} s: {changes}, "
        f"{data['unchanged']} unchanged ({data['encoded']} encoded, {data['reused']} reused)."
    )
    for item in data["errors"]:
        _out(f"  not indexed: {item['path']}: {item['reason']}")
    if data["stopped"]:
        _out("Stopped early; run `edge-app index` again to finish (nothing is lost).")


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
        "status",
        "library, bundle and index status (loads no model)",
        status_args,
        status_command,
        True,
    ),
    Subcommand(
        "roots",
        "list, add or remove photo roots (indexed in place)",
        roots_cli.roots_args,
        roots_cli.roots,
    ),
    Subcommand("ocr", "read the text in indexed photos (OCR)", ocr_cli.ocr_args, ocr_cli.ocr),
    Subcommand(
        "faces",
        "People: find, group and name faces (opt-in)",
        faces_cli.faces_args,
        faces_cli.faces,
    ),  # fmt: skip
    Subcommand(
        "demo",
        "toy model unless a bundle is set, index samples, search",
        demo_cli.demo_args,
        demo_cli.demo,
    ),
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
        "import-pack",
        "add a library pack made by `edge-build pack` (no encoding; resumable)",
        packs_cli.import_pack_args,
        packs_cli.import_pack,
    ),
    Subcommand(
        "install",
        "install the systemd units, udev rule, user and directories",
        appl.install_args,
        lambda a, s: appl.install(a, s, _out),
    ),
    Subcommand(
        "tls", "the HTTPS certificate: show, install your own", tls_cli.tls_args, tls_cli.tls
    ),
    Subcommand(
        "passwd",
        "set a new admin password and sign out every web session",
        account_cli.passwd_args,
        account_cli.passwd,
    ),
    Subcommand(
        "reset-password",
        "forgot it? forget the admin password, sign everyone out, new setup token",
        account_cli.reset_args,
        account_cli.reset_password,
    ),
    Subcommand(
        "uninstall",
        "remove what install added (--purge: data too)",
        appl.uninstall_args,
        lambda a, s: appl.uninstall(a, s, _out),
    ),
]
