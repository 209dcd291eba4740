"""Find the photos under the library root.

A library is usually a copy of USB sticks and camera cards, so it is full of junk that
looks like photos: macOS ``._IMG_0001.JPG`` resource forks, ``.Trashes``, Synology
``@eaDir`` thumbnails, Windows ``$RECYCLE.BIN``. Those are never indexed.

Symbolic links are never followed. A link that leads outside the library is recorded as
skipped (indexing it would publish files the owner never put in the library); a link to
something inside the library is skipped too, because the target is scanned at its real
path anyway. Not following links also means link cycles cannot loop.

Only ``stat`` is called per file. `diff` compares a scan with the library's rows by size
and mtime alone and says which files need their content hashed to decide (possible
moves, possible ``touch``); hashing and decoding belong to the pipeline.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edge_app.errors import LibraryError, PathOutsideLibraryError
from edge_app.indexing.imaging import IMAGE_EXTENSIONS
from edge_app.library.records import KnownFile

__all__ = [
    "SYSTEM_DIRS",
    "Diff",
    "ScanResult",
    "ScannedFile",
    "SkippedPath",
    "diff",
    "diff_files",
    "is_photo_name",
    "scan",
    "scan_lazily",
    "sha256_file",
    "sha256_or_none",
]

log = logging.getLogger(__name__)

#: Folder names (lower-case) that operating systems and NAS boxes create.
SYSTEM_DIRS = frozenset(
    {
        ".trashes",
        ".trash",
        ".spotlight-v100",
        ".fseventsd",
        ".temporaryitems",
        ".documentrevisions-v100",
        ".thumbnails",
        ".git",
        "system volume information",
        "$recycle.bin",
        "recycler",
        "@eadir",
        "#recycle",
        "lost+found",
        "__macosx",
    }
)


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A candidate photo: ``rel_path`` is POSIX, relative to the library root."""

    rel_path: str
    abs_path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class SkippedPath:
    """Something that looked relevant but was not scanned, and why."""

    path: str
    reason: str


@dataclass
class ScanResult:
    """Files found, things skipped, and the scopes covered.

    ``scopes`` are the root-relative POSIX prefixes that were scanned ("" = the whole
    library): a photo in the database under a scope but not in ``files`` was deleted.
    """

    root: Path
    files: list[ScannedFile] = field(default_factory=list)
    skipped: list[SkippedPath] = field(default_factory=list)
    scopes: tuple[str, ...] = ("",)

    def in_scope(self, rel_path: str) -> bool:
        """Whether ``rel_path`` lies under one of the scanned scopes."""
        return any(_under(rel_path, scope) for scope in self.scopes)


def scan(root: Path, paths: Sequence[Path] | None = None) -> ScanResult:
    """Scan ``root`` (or only ``paths`` inside it) for photo files, sorted by path.

    Relative ``paths`` are taken relative to ``root``. Raises `PathOutsideLibraryError`
    when a path does not exist or (after resolving links) is not inside the root, and
    `LibraryError` when the root itself is missing.
    """
    result, files = scan_lazily(root, paths)
    result.files = sorted(files, key=lambda f: f.rel_path)
    return result


def scan_lazily(
    root: Path, paths: Sequence[Path] | None = None
) -> tuple[ScanResult, Iterator[ScannedFile]]:
    """`scan` without holding the files: they are yielded one at a time, in walk order,
    while ``result.skipped`` fills up (``result.files`` stays empty). A full rescan of a
    large library then costs memory for the files that need work only."""
    try:
        real_root = Path(root).resolve(strict=True)
    except OSError as exc:
        raise LibraryError(f"library folder {root} does not exist or cannot be read") from exc
    targets = [real_root] if not paths else [_inside(real_root, Path(p)) for p in paths]
    result = ScanResult(root=real_root, scopes=tuple(_rel(real_root, t) for t in targets))
    return result, _unique(real_root, targets, result.skipped)


def _unique(root: Path, targets: list[Path], skipped: list[SkippedPath]) -> Iterator[ScannedFile]:
    """Every target's files once (requested paths may overlap; one target cannot)."""
    if len(targets) == 1:
        yield from _scan_target(root, targets[0], skipped)
        return
    seen: set[str] = set()
    for target in targets:
        for item in _scan_target(root, target, skipped):
            if item.rel_path not in seen:
                seen.add(item.rel_path)
                yield item


def is_photo_name(name: str) -> bool:
    """A visible file with a photo extension (case-insensitive)."""
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS


def _inside(root: Path, path: Path) -> Path:
    """Resolve a requested path and insist it lies inside the library root."""
    candidate = path if path.is_absolute() else root / path
    try:
        resolved = candidate.resolve(strict=True)
    except FileNotFoundError as exc:
        raise PathOutsideLibraryError(f"{path} does not exist inside the library {root}") from exc
    if not resolved.is_relative_to(root):
        raise PathOutsideLibraryError(
            f"{path} is outside the library {root}: only photos inside the library can be "
            "indexed (copy them in first, e.g. with `edge-app import`)"
        )
    return resolved


def _scan_target(root: Path, target: Path, skipped: list[SkippedPath]) -> Iterator[ScannedFile]:
    """One requested path: a single file or a folder tree."""
    reason = _excluded_reason(_rel(root, target))
    if reason:
        skipped.append(SkippedPath(_rel(root, target), reason))
        return
    if target.is_dir():
        yield from _walk(root, target, skipped)
        return
    entry_stat = target.stat()
    if is_photo_name(target.name) and stat.S_ISREG(entry_stat.st_mode):
        yield _scanned(root, target, entry_stat)


def _walk(root: Path, top: Path, skipped: list[SkippedPath]) -> Iterator[ScannedFile]:
    """Iterative depth-first walk (no recursion limit on deep trees)."""
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            skipped.append(SkippedPath(_rel(root, folder), f"cannot read folder ({exc.strerror})"))
            continue
        for entry in entries:
            found = _visit(root, entry, stack, skipped)
            if found is not None:
                yield found


def _visit(
    root: Path, entry: os.DirEntry[str], stack: list[Path], skipped: list[SkippedPath]
) -> ScannedFile | None:
    """Classify one directory entry: descend, yield a photo, skip with a reason, or ignore."""
    path = Path(entry.path)
    rel = _rel(root, path)
    if entry.is_symlink():
        if entry.name.startswith(".") or not _link_is_relevant(entry):
            return None
        skipped.append(SkippedPath(rel, _link_reason(root, path)))
        return None
    if entry.is_dir(follow_symlinks=False):
        reason = _excluded_reason(entry.name)
        if reason:
            skipped.append(SkippedPath(rel, reason))
        else:
            stack.append(path)
        return None
    return _photo_entry(root, entry, rel, skipped)


def _photo_entry(
    root: Path, entry: os.DirEntry[str], rel: str, skipped: list[SkippedPath]
) -> ScannedFile | None:
    if not is_photo_name(entry.name):
        return None
    try:
        entry_stat = entry.stat(follow_symlinks=False)
    except OSError as exc:
        skipped.append(SkippedPath(rel, f"cannot stat file ({exc.strerror})"))
        return None
    if not stat.S_ISREG(entry_stat.st_mode):
        skipped.append(SkippedPath(rel, "not a regular file"))
        return None
    return _scanned(root, Path(entry.path), entry_stat)


def _link_is_relevant(entry: os.DirEntry[str]) -> bool:
    """Links worth reporting: to folders, to photos, or dangling photo-named ones."""
    try:
        return entry.is_dir() or is_photo_name(entry.name)
    except OSError:
        return is_photo_name(entry.name)


def _link_reason(root: Path, link: Path) -> str:
    try:
        target = link.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        return "broken symbolic link (or a link loop)"
    except OSError as exc:
        return f"symbolic link cannot be resolved ({exc.strerror})"
    if not target.is_relative_to(root):
        return f"symbolic link leads outside the library (to {target}); links are not followed"
    return f"symbolic link to {_rel(root, target)} inside the library, indexed at its real path"


def _excluded_reason(rel_or_name: str) -> str | None:
    """Hidden or system folder anywhere in the relative path."""
    for part in rel_or_name.split("/"):
        if part.lower() in SYSTEM_DIRS:
            return f"system folder {part!r} is never indexed"
        if part.startswith("."):
            return f"hidden folder {part!r} is never indexed"
    return None


def _scanned(root: Path, path: Path, st: os.stat_result) -> ScannedFile:
    return ScannedFile(_rel(root, path), path, st.st_size, st.st_mtime_ns)


def _rel(root: Path, path: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return "" if rel == "." else rel


def _under(rel_path: str, scope: str) -> bool:
    return scope == "" or rel_path == scope or rel_path.startswith(scope + "/")


@dataclass
class Diff:
    """A scan compared with the library by size + mtime (no file content read yet).

    ``stale``: unchanged on disk but pending, or embedded by another bundle.
    ``maybe_moved``: new paths with the size of a missing photo (hash to find out).
    ``maybe_touched``: embedded photos whose mtime alone changed (hash to find out).
    ``missing``: library rows in the scanned scope with no file: deleted, unless a
    possible move claims them.
    """

    unchanged: int = 0
    scanned: int = 0
    new: list[ScannedFile] = field(default_factory=list)
    changed: list[ScannedFile] = field(default_factory=list)
    stale: list[ScannedFile] = field(default_factory=list)
    maybe_moved: list[ScannedFile] = field(default_factory=list)
    maybe_touched: list[tuple[KnownFile, ScannedFile]] = field(default_factory=list)
    missing: dict[str, KnownFile] = field(default_factory=dict)


def diff(result: ScanResult, known: dict[str, KnownFile], bundle_id: str) -> Diff:
    """Classify every scanned file and every known row in scope (see `Diff`)."""
    return diff_files(result.files, dict(known), result.in_scope, bundle_id)


def diff_files(
    files: Iterable[ScannedFile],
    known: dict[str, KnownFile],
    in_scope: Callable[[str], bool],
    bundle_id: str,
) -> Diff:
    """`diff` over a stream of files, read once and kept only when they need work.

    Each file's row is popped from ``known`` (the caller's dict): the rows left in scope
    at the end are the missing ones. Unknown paths are sorted into new / maybe moved
    once every missing row (and so every size a move could have) is known.
    """
    out = Diff()
    unknown: list[ScannedFile] = []
    for item in files:
        out.scanned += 1
        row = known.pop(item.rel_path, None)
        if row is None:
            unknown.append(item)
        elif row.size == item.size and row.mtime_ns == item.mtime_ns:
            _same_stat(out, row, item, bundle_id)
        elif row.size == item.size and _embedded(row, bundle_id) and row.sha256:
            out.maybe_touched.append((row, item))
        else:
            out.changed.append(item)
    out.missing = {r: k for r, k in known.items() if in_scope(r)}
    missing_sizes = {k.size for k in out.missing.values()}
    for item in unknown:
        (out.maybe_moved if item.size in missing_sizes else out.new).append(item)
    return out


def _same_stat(out: Diff, row: KnownFile, item: ScannedFile, bundle_id: str) -> None:
    """Errors are retried only when the file changes; pending/other-bundle rows are stale."""
    if row.status == "error" or _embedded(row, bundle_id):
        out.unchanged += 1
    else:
        out.stale.append(item)


def _embedded(row: KnownFile, bundle_id: str) -> bool:
    return row.status == "indexed" and row.bundle_id == bundle_id


def sha256_file(path: Path) -> str:
    """Content hash (move and duplicate detection); reads in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fp:
        while chunk := fp.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_or_none(item: ScannedFile) -> str | None:
    """For change detection: a file that cannot be read now is left for the decoder to
    report (with its reason) instead of failing the whole scan."""
    try:
        return sha256_file(item.abs_path)
    except OSError as exc:
        log.warning("cannot hash %s (%s); it will be decoded and reported", item.rel_path, exc)
        return None
