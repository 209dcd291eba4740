"""``edge-app tags list|show|add|edit|delete|install|retag``: label sets from the shell.

Definitions are validated exactly like the web form and API (`edge_app.tags.admin`);
``add``/``edit``/``install`` only store the set, ``retag`` loads the encoder and re-tags
stale sets from the stored embeddings (the daemon does this by itself after indexing).
A labels file is JSON (a list of names or label objects, see docs/API.md) or text, one
label per line: ``name: prompt; another prompt``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge_app.errors import LabelError
from edge_app.settings import Settings


def tags_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="tags_command", required=True, metavar="ACTION")
    sub.add_parser("list", help="label sets and tag counts").add_argument(
        "--json", action="store_true"
    )
    show = sub.add_parser("show", help="the labels of one set")
    show.add_argument("set", help="set name or id")
    for name, what in (("add", "create a label set"), ("edit", "replace a set's labels")):
        cmd = sub.add_parser(name, help=what)
        cmd.add_argument("set", help="set name (or id for edit)")
        cmd.add_argument("--labels", type=Path, help="labels file (JSON or one label per line)")
        cmd.add_argument("--label", action="append", default=[], help="a label name (repeatable)")
        cmd.add_argument("--description", help="what the set is for")
    sub.add_parser("delete", help="delete a set and its tags").add_argument("set")
    sub.add_parser("install", help="install a built-in set").add_argument("name", help="everyday")
    retag = sub.add_parser("retag", help="re-tag stale sets now (loads the model)")
    retag.add_argument("--all", action="store_true", help="re-tag every set, stale or not")


def tags(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``tags`` action; domain errors are turned into exit codes by `main`."""
    if args.tags_command == "retag":
        return _retag(settings, args.all)
    from edge_app.library.store import Library

    settings.ensure_dirs()
    with Library(settings.db_path) as library:
        return _ACTIONS[args.tags_command](library, args)


def _list(library: Any, args: argparse.Namespace) -> int:
    sets = library.list_label_sets()
    counts = library.tag_counts()
    if args.json:
        print(
            json.dumps(
                {"sets": [s.to_json() for s in sets], "tags": [t.to_json() for t in counts]},
                indent=2,
            )
        )
        return 0
    for s in sets:
        state = "tagged " + s.tagged_at if s.tagged_at else "not tagged yet"
        print(f"{s.id:>4}  {s.name:<24} {s.label_count:>5} labels  {state}")
    for t in counts:
        print(f"      {t.name:<24} {t.count:>6} photos")
    return 0


def _show(library: Any, args: argparse.Namespace) -> int:
    from edge_app.tags.admin import resolve_set

    label_set = resolve_set(library, args.set)
    print(f"{label_set.name}: {label_set.description}")
    for label in label_set.labels:
        prompts = "; ".join(label.prompts[:3]) + (" ..." if len(label.prompts) > 3 else "")
        print(f"  {label.name:<24} {label.count:>6} photos  {prompts}")
    return 0


def _labels(args: argparse.Namespace) -> Any:
    items: list[Any] = list(args.label)
    if args.labels is not None:
        text = args.labels.read_text("utf-8")
        try:
            items.extend(json.loads(text))
        except json.JSONDecodeError:
            from edge_app.tags.labels import labels_from_lines

            items.extend(
                {"name": d.name, "prompts": list(d.prompts)}
                for d in labels_from_lines(text.splitlines())
            )
    if not items:
        raise LabelError("give labels with --labels FILE or --label NAME")
    return items


def _add(library: Any, args: argparse.Namespace) -> int:
    from edge_app.tags.admin import create_set

    label_set = create_set(library, args.set, _labels(args), args.description or "")
    print(
        f"created label set {label_set.name!r} ({label_set.label_count} labels); run `edge-app tags retag`"
    )
    return 0


def _edit(library: Any, args: argparse.Namespace) -> int:
    from edge_app.tags.admin import resolve_set, update_set

    label_set = update_set(
        library, resolve_set(library, args.set).id, _labels(args), args.description
    )
    print(f"updated {label_set.name!r} ({label_set.label_count} labels); run `edge-app tags retag`")
    return 0


def _delete(library: Any, args: argparse.Namespace) -> int:
    from edge_app.tags.admin import resolve_set

    label_set = resolve_set(library, args.set)
    library.delete_label_set(label_set.id)
    print(f"deleted label set {label_set.name!r} and its tags")
    return 0


def _install(library: Any, args: argparse.Namespace) -> int:
    from edge_app.tags.admin import install_builtin

    label_set = install_builtin(library, args.name)
    print(
        f"label set {label_set.name!r}: {label_set.label_count} labels; run `edge-app tags retag`"
    )
    return 0


def _retag(settings: Settings, everything: bool) -> int:
    from edge_app.context import AppContext
    from edge_app.tags.jobs import tag_library

    with AppContext.open(settings) as ctx:
        if everything:
            runs = [ctx.tagger.retag(s.id) for s in ctx.library.list_label_sets() if s.label_count]
        else:
            runs = tag_library(ctx)
    for run in runs:
        print(
            f"{run.set_name:<24} {run.state:<9} {run.tags:>7} tags on {run.photos} photos in {run.seconds:.1f} s {run.message}".rstrip()
        )
    if not runs:
        print("every label set is up to date")
    return 1 if any(r.state == "discarded" for r in runs) else 0


_ACTIONS = {
    "list": _list, "show": _show, "add": _add, "edit": _edit, "delete": _delete,
    "install": _install,
}  # fmt: skip
