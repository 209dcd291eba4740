"""``edge-app faces on|off|run|status|people|name|merge|move|reject|forget``: People from the shell.

People is off until an admin turns it on (``faces on``); ``faces off --yes`` deletes every
face descriptor, person and crop. ``run`` is the face pass the daemon runs after
indexing (resumable; ``kill -9`` loses at most one photo).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from edge_app.errors import FacesError
from edge_app.settings import Settings


def faces_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="faces_command", required=True, metavar="ACTION")
    on = sub.add_parser("on", help="turn People on (faces are found after indexing)")
    on.add_argument("--guests", action="store_true", help="let guests see People too")
    sub.add_parser("off", help="turn People off and DELETE every face").add_argument(
        "--yes", action="store_true", help="confirm the deletion"
    )
    run = sub.add_parser("run", help="find faces in indexed photos now (resumable)")
    run.add_argument("--limit", type=int, help="scan at most this many photos")
    run.add_argument("--json", action="store_true")
    sub.add_parser("status", help="face counts").add_argument("--json", action="store_true")
    sub.add_parser("people", help="list people").add_argument("--json", action="store_true")
    name = sub.add_parser("name", help="name a person (--clear removes the name)")
    name.add_argument("person", type=int)
    name.add_argument("name", nargs="?")
    name.add_argument("--clear", action="store_true")
    merge = sub.add_parser("merge", help="merge people into the first one")
    merge.add_argument("target", type=int)
    merge.add_argument("sources", type=int, nargs="+")
    move = sub.add_parser("move", help="move faces to a person, 'new' or 'none' (split)")
    move.add_argument("to", help="person id, new or none")
    move.add_argument("faces", type=int, nargs="+")
    sub.add_parser("reject", help="'not this person' for one face").add_argument("face", type=int)
    forget = sub.add_parser("forget", help="delete a person's faces; never re-create them")
    forget.add_argument("person", type=int)
    forget.add_argument("--yes", action="store_true", help="confirm the deletion")


def faces(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``faces`` action; domain errors are turned into exit codes by `main`."""
    from edge_app.library.store import Library

    settings.ensure_dirs()
    with Library(settings.db_path) as library:
        if args.faces_command not in ("on", "off", "status") and not library.faces_enabled():
            raise FacesError("People is off: turn it on with `edge-app faces on`")
        return _ACTIONS[args.faces_command](settings, library, args)


def _on(settings: Settings, library: Any, args: argparse.Namespace) -> int:
    from edge_app.enrich.face_pass import set_faces_enabled

    set_faces_enabled(settings, library, True, guests=args.guests)
    print("People is on: faces (box, a 128-number descriptor, a small crop) will be stored "
          "for indexed photos; `edge-app faces off --yes` deletes them all.")  # fmt: skip
    return 0


def _off(settings: Settings, library: Any, args: argparse.Namespace) -> int:
    from edge_app.enrich.face_pass import set_faces_enabled

    if not args.yes:
        raise FacesError("turning People off deletes every face and person: add --yes")
    set_faces_enabled(settings, library, False, guests=False)
    print("People is off: every face descriptor, person and crop was deleted.")
    return 0


def _run(settings: Settings, library: Any, args: argparse.Namespace) -> int:
    from edge_app.cli.exits import EXIT_INTERRUPTED, EXIT_OK, stop_on_signals
    from edge_app.enrich.face_pass import run_faces
    from edge_app.indexing.progress import Progress, TqdmBar

    quiet = args.json or not sys.stderr.isatty()
    with stop_on_signals() as stop, TqdmBar("finding faces", disable=quiet) as bar:
        progress = Progress()
        progress.add_listener(bar)
        report = run_faces(settings, library, progress, stop, args.limit)
    data = {**report.to_dict(), "library": library.face_counts()}
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(f"{report.faces} faces in {report.done} photos ({report.no_faces} without, "
              f"{report.failed} failed), {report.new_people} new people in {report.seconds:.1f}s")  # fmt: skip
        for path, reason in report.failures:
            print(f"  failed: {path}: {reason}")
    return EXIT_INTERRUPTED if report.stopped else EXIT_OK


def _status(settings: Settings, library: Any, args: argparse.Namespace) -> int:
    data = {"enabled": library.faces_enabled(), "guests": library.faces_for_guests(),
            **library.face_counts()}  # fmt: skip
    print(json.dumps(data) if args.json else ", ".join(f"{k}: {v}" for k, v in data.items()))
    return 0


def _people(settings: Settings, library: Any, args: argparse.Namespace) -> int:
    people = library.people()
    if args.json:
        rows = [{"id": p.id, "name": p.name, "faces": p.faces, "photos": p.photos} for p in people]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    for p in [] if args.json else people:
        print(f"{p.id:5d}  {p.label:30s} {p.faces:5d} faces {p.photos:5d} photos")
    return 0


def _name(settings: Settings, library: Any, args: argparse.Namespace) -> int:
    if (args.name is None) != args.clear:
        raise FacesError("give a name, or --clear to remove it")
    library.name_person(args.person, None if args.clear else args.name)
    return 0


def _merge(settings: Settings, library: Any, args: argparse.Namespace) -> int:
    library.merge_people(args.target, args.sources)
    return 0


def _move(settings: Settings, library: Any, args: argparse.Namespace) -> int:
    if args.to == "new":
        print(library.create_person(args.faces, pinned=True))
    elif args.to == "none":
        library.move_faces(args.faces, None)
    elif args.to.isdigit():
        library.move_faces(args.faces, int(args.to))
    else:
        raise FacesError(f"move to a person id, 'new' or 'none', not {args.to!r}")
    return 0


def _reject(settings: Settings, library: Any, args: argparse.Namespace) -> int:
    library.reject_face(args.face)
    return 0


def _forget(settings: Settings, library: Any, args: argparse.Namespace) -> int:
    from edge_app.enrich.face_pass import forget_person

    if not args.yes:
        raise FacesError("forgetting deletes this person's faces for good: add --yes")
    print(
        f"forgot person {args.person}: {forget_person(settings, library, args.person)} crops deleted"
    )
    return 0


_ACTIONS = {
    "on": _on, "off": _off, "run": _run, "status": _status, "people": _people, "name": _name,
    "merge": _merge, "move": _move, "reject": _reject, "forget": _forget,
}  # fmt: skip
