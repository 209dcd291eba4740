"""``edge-app roots list | add | remove``: the photo folders indexed in place.

Why in the CLI too (not only the web page): a headless appliance is set up over SSH.
``list`` is the per-root status (online/offline, photos, watching/polling, last scan);
the watch mode comes from the running daemon's ``watch-status.json``. Adding a root only
registers it (after the checks of `edge_app.indexing.roots.validate_root`): the daemon's
watcher picks it up within seconds, or run ``edge-app index FOLDER``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from edge_app.settings import Settings


def roots_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="every root with its status")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    add = sub.add_parser("add", help="index a folder in place (read-only)")
    add.add_argument("path", help="folder to add")
    remove = sub.add_parser("remove", help="stop indexing a folder and forget its photos")
    remove.add_argument("root", help="the root's path or id (see `roots list`)")


def roots(args: argparse.Namespace, settings: Settings) -> int:
    from edge_app.indexing.roots import add_user_root, remove_user_root, sync_config_roots
    from edge_app.library.store import Library

    if args.action == "list":
        return _list(args, settings)
    with Library(settings.db_path) as library:
        sync_config_roots(library, settings)
        if args.action == "add":
            root = add_user_root(library, settings, args.path)
            print(f"added root {root.id}: {root.path} (read-only, indexed in place)")
            print("the running daemon starts watching it within seconds; to index now:")
            print(f"  edge-app index {root.path}")
            return 0
        if args.action == "remove":
            root, ids = remove_user_root(library, args.root)
            print(f"removed root {root.id}: {root.path}; forgot {len(ids)} photos")
            print("(nothing in the folder was touched)")
            return 0
    raise ValueError(f"unknown roots action {args.action!r}")


def _list(args: argparse.Namespace, settings: Settings) -> int:
    """Read-only: what the database and the running daemon say (changes nothing)."""
    from edge_app.library.store import Library

    opener = Library.open_reader if settings.db_path.is_file() else Library
    with opener(settings.db_path) as library:
        rows = roots_status(settings, library)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(_line(row))
    return 0


def roots_status(settings: Settings, library: Any) -> list[dict[str, Any]]:
    """One dict per root: the database's view plus the daemon's watch mode."""
    from edge_app.indexing.roots import root_path
    from edge_app.watch.watcher import read_status_file

    watch = read_status_file(settings.data_dir) or {"roots": []}
    alive = _alive(watch.get("pid"))
    modes = {r["root_id"]: r for r in watch["roots"]} if alive else {}
    out = []
    for root in library.list_roots():
        mode = modes.get(root.id, {"mode": "not running", "reason": "the daemon is not running"})
        out.append(
            {
                "id": root.id, "path": str(root_path(root, settings)), "source": root.source,
                "online": root.online, "photos": root.photos, "watch": mode["mode"],
                "watch_reason": mode["reason"], "last_scan": root.last_scan_at,
                "problem": root.last_error,
            }
        )  # fmt: skip
    return out


def _alive(pid: Any) -> bool:
    """Whether the daemon that wrote the watch status still runs (a stale file lies)."""
    import os

    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _line(row: dict[str, Any]) -> str:
    state = "online" if row["online"] else "OFFLINE"
    text = (
        f"{row['id']:>3}  {row['path']}  [{row['source']}] {state}, {row['photos']} photos, "
        f"{row['watch']} ({row['watch_reason']}), last scan {row['last_scan'] or 'never'}"
    )
    return text + (f"\n     problem: {row['problem']}" if row["problem"] else "")
