"""Photo roots: which folders are indexed in place, checked before they are trusted.

Why checks at configuration time: a root is read-only, indexed where it lies, and its
photos are keyed relative to it, so a root that is a file, missing, inside the data dir
(thumbnails and the database would be indexed), overlapping another root (one photo
under two keys) or holding a symlink loop is refused with a `ConfigError` that says
what to change. A root that disappears *later* is not an error: its photos go offline
(see `edge_app.indexing.root_scan`).

The managed library (``settings.library_dir``) is always root 1; extra roots come from
``settings.library_roots`` (source ``config``) or ``edge-app roots add`` / the web
Library page (source ``user``), all kept in the ``roots`` table.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from edge_app.errors import ConfigError, NotFoundError, PathOutsideLibraryError
from edge_app.library.roots import LIBRARY_ROOT_ID, Root, split_key
from edge_app.library.store import Library
from edge_app.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "add_user_root",
    "find_root",
    "locate",
    "photo_file",
    "remove_user_root",
    "root_path",
    "sync_config_roots",
    "validate_root",
]


def root_path(root: Root, settings: Settings) -> Path:
    """Where the root lies (the managed library follows ``settings.library_dir``)."""
    return settings.library_dir if root.path is None else root.path


def validate_root(path: Path, settings: Settings, others: Sequence[Path]) -> Path:
    """The absolute real path of a usable new root, or `ConfigError` saying why not."""
    real = _existing_folder(Path(path).expanduser())
    data = settings.data_dir.resolve()
    if real.is_relative_to(data) or data.is_relative_to(real):
        raise ConfigError(
            f"photo root {path} overlaps the data folder {data} (database, thumbnails, "
            "managed library): choose a folder outside it"
        )
    for other in others:
        other_real = other.resolve()
        if real.is_relative_to(other_real) or other_real.is_relative_to(real):
            raise ConfigError(
                f"photo root {path} overlaps the root {other}: one folder may belong to "
                "one root only (add the outer folder, or the inner ones, not both)"
            )
    loop = find_symlink_loop(real)
    if loop is not None:
        raise ConfigError(
            f"photo root {path} contains a symbolic link loop at {loop}: remove or fix "
            "the link (links are never followed, but a loop means the tree is damaged)"
        )
    return real


def _existing_folder(path: Path) -> Path:
    try:
        real = path.resolve(strict=True)
    except RuntimeError as exc:
        raise ConfigError(f"photo root {path} is a symbolic link loop") from exc
    except OSError as exc:
        raise ConfigError(
            f"photo root {path} does not exist ({exc.strerror}): mount the disk or fix the path"
        ) from exc
    if not real.is_dir():
        raise ConfigError(f"photo root {path} is a file, not a folder: give its folder instead")
    if not os.access(real, os.R_OK | os.X_OK):
        raise ConfigError(f"photo root {path} cannot be read by this user: fix its permissions")
    return real


def find_symlink_loop(top: Path) -> Path | None:
    """The first link under ``top`` that loops (or leads to one of its own ancestors)."""
    for folder, dirs, files in os.walk(top, followlinks=False):
        for name in [*dirs, *files]:
            link = Path(folder) / name
            if link.is_symlink() and _is_loop(link):
                return link
    return None


def _is_loop(link: Path) -> bool:
    try:
        target = link.resolve(strict=True)
    except RuntimeError:
        return True
    except OSError as exc:
        return exc.errno == 40  # ELOOP
    return target.is_dir() and link.parent.resolve().is_relative_to(target)


def _extra_paths(roots: Sequence[Root], settings: Settings) -> list[Path]:
    return [settings.library_dir, *(r.path for r in roots if r.path is not None)]


def sync_config_roots(library: Library, settings: Settings) -> list[Root]:
    """Bring ``settings.library_roots`` into the roots table (the writer calls this).

    New configured roots are validated (`ConfigError`); known ones that are missing now
    are left to the scan, which marks them offline. A root dropped from the settings
    keeps its photos (as a ``user`` root) until ``edge-app roots remove`` forgets them.
    """
    roots = library.list_roots()
    known = {r.path: r for r in roots if r.path is not None}
    wanted: set[Path] = set()
    for configured in settings.library_roots:
        path = _absolute(configured)
        wanted.add(path)
        existing = known.get(path)
        if existing is None:
            others = _extra_paths(library.list_roots(), settings)
            real = validate_root(path, settings, others)
            library.add_root(real, "config")
            wanted.add(real)
        elif existing.source != "config":
            library.set_root_source(existing.id, "config")
    for root in roots:
        if root.source == "config" and root.path not in wanted:
            log.warning("root %s is no longer configured; its photos are kept", root.path)
            library.set_root_source(root.id, "user")
    return library.list_roots()


def add_user_root(library: Library, settings: Settings, path: Path) -> Root:
    """``edge-app roots add`` / the web form: validate, then register."""
    real = validate_root(path, settings, _extra_paths(library.list_roots(), settings))
    return library.add_root(real, "user")


def remove_user_root(library: Library, path_or_id: str) -> tuple[Root, list[int]]:
    """Forget a root and its photos; configured roots must leave the config file first."""
    root = find_root(library.list_roots(), path_or_id)
    if root.is_library:
        raise ConfigError("the managed library is always a root; it cannot be removed")
    if root.source == "config":
        raise ConfigError(
            f"root {root.path} comes from library_roots in the settings: remove it there "
            "(config.toml or EDGE_LIBRARY_ROOTS) and restart first"
        )
    return root, library.remove_root(root.id)


def find_root(roots: Sequence[Root], path_or_id: str) -> Root:
    """A root by id or by path (as given or resolved)."""
    for root in roots:
        if path_or_id == str(root.id) or (
            root.path is not None and root.path in (Path(path_or_id), _absolute(Path(path_or_id)))
        ):
            return root
    raise NotFoundError(f"no photo root {path_or_id!r}: see `edge-app roots list`")


def _absolute(path: Path) -> Path:
    """Absolute and, where it exists, with links resolved (how roots are stored)."""
    path = Path(path).expanduser().absolute()
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):
        return path


def locate(
    paths: Sequence[Path], roots: Sequence[Root], settings: Settings
) -> dict[int, list[Path]]:
    """Group requested paths by the root holding them (links resolved first).

    Raises `PathOutsideLibraryError` for a path in no root: a symbolic link that leads
    out of every root is refused the same way.
    """
    by_root: dict[int, list[Path]] = {}
    for requested in paths:
        try:
            real = Path(requested).resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise PathOutsideLibraryError(
                f"{requested} does not exist or cannot be resolved"
            ) from exc
        root = _holder(real, roots, settings)
        if root is None:
            raise PathOutsideLibraryError(
                f"{requested} is outside the library and every photo root: add its folder with "
                "`edge-app roots add FOLDER` (indexed in place) or copy it in with `edge-app import`"
            )
        by_root.setdefault(root.id, []).append(real)
    return by_root


def _holder(real: Path, roots: Sequence[Root], settings: Settings) -> Root | None:
    for root in roots:
        try:
            base = root_path(root, settings).resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if real.is_relative_to(base):
            return root
    return None


def photo_file(library: Library, settings: Settings, key: str) -> Path:
    """The file behind a photo key, proven to lie inside its root (links included).

    `NotFoundError` when the root is offline or the file is gone; `PathOutsideLibraryError`
    when a link inside the root now leads out of it.
    """
    root_id, rel = split_key(key)
    root = library.get_root(root_id)
    base = root_path(root, settings).resolve()
    if root_id != LIBRARY_ROOT_ID and not root.online:
        raise NotFoundError(f"the photo root {base} is offline: plug in or mount it again")
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise PathOutsideLibraryError(f"{key} points outside its photo root {base}")
    if not path.is_file():
        raise NotFoundError(f"the file {path} is gone; re-index the library")
    return path
