"""The library's trash: ``<library>/.trash/<token>/``, restorable until emptied.

Why a folder inside the library and not a delete: reviewing duplicates must never lose a
photo to one click. A trashed file is *moved* (atomic rename, same filesystem) into a
hidden folder the scanner never enters. Each item keeps its original place in
``item.json``. Only "empty trash" deletes, and only what is in the trash.

`LibraryTrash` moves the photo's library row along (`edge_app.library.trash_rows`) and
takes its vector out of the live index, so a trashed photo leaves search and the
timeline at once, and a restore gives it back its id, tags, recognised text and place.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from edge_app.errors import NotFoundError, PathOutsideLibraryError
from edge_app.indexing.imaging import thumbnail_path
from edge_app.library.store import Library, Photo
from edge_app.search.index_store import IndexStore
from edge_app.settings import Settings
from edge_app.usb.copy import fsync_dir

log = logging.getLogger(__name__)

TRASH_DIR = ".trash"
ITEM_FILE = "item.json"
_TOKEN = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9]+-[0-9a-f]{6}$")


@dataclass(frozen=True)
class TrashItem:
    """One trashed photo: where it came from and when it was trashed."""

    token: str
    rel_path: str
    photo_id: int
    trashed_at: str

    @property
    def name(self) -> str:
        return self.rel_path.rpartition("/")[2]

    @property
    def key(self) -> str:
        """The library key of the file while it is in the trash."""
        return f"{TRASH_DIR}/{self.token}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "rel_path": self.rel_path,
            "name": self.name,
            "photo_id": self.photo_id,
            "trashed_at": self.trashed_at,
        }


class Trash:
    """Move photos in, list, restore, empty. Every path is proven to stay in the library."""

    def __init__(self, library_dir: Path) -> None:
        self.library = library_dir.resolve()
        self.root = self.library / TRASH_DIR

    def inside_library(self, rel_path: str) -> Path:
        """``rel_path`` as a real path inside the library and outside the trash."""
        path = (self.library / rel_path).resolve()
        if not path.is_relative_to(self.library) or path.is_relative_to(self.root):
            raise PathOutsideLibraryError(f"{rel_path!r} is not a photo inside the library")
        return path

    def move_in(self, rel_path: str, photo_id: int) -> TrashItem:
        """Trash one photo file; `NotFoundError` if it is already gone."""
        source = self.inside_library(rel_path)
        if not source.is_file():
            raise NotFoundError(f"{rel_path} is not in the library any more (already trashed?)")
        now = datetime.now(UTC)
        token = f"{now:%Y%m%dT%H%M%S}-{photo_id}-{secrets.token_hex(3)}"
        item = TrashItem(token, rel_path, photo_id, now.isoformat(timespec="seconds"))
        folder = self.root / token
        folder.mkdir(parents=True, mode=0o750)
        (folder / ITEM_FILE).write_text(json.dumps(item.to_json()), encoding="utf-8")
        os.rename(source, folder / source.name)
        fsync_dir(folder)
        fsync_dir(source.parent)
        log.info("event=trashed path=%s token=%s", rel_path, token)
        return item

    def items(self) -> list[TrashItem]:
        """Everything in the trash, newest first (folders without a readable item.json
        are skipped with a warning: never guess where a file came from)."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            if folder.is_dir() and _TOKEN.match(folder.name):
                item = self._read(folder)
                if item is not None:
                    found.append(item)
        return sorted(found, key=lambda i: i.token, reverse=True)

    def get(self, token: str) -> TrashItem:
        """One item; `NotFoundError` for an unknown or malformed token."""
        item = self._read(self._folder(token))
        if item is None:
            raise NotFoundError(f"nothing in the trash is called {token!r}")
        return item

    def file_of(self, token: str) -> Path:
        """The trashed file itself (for its thumbnail)."""
        item = self.get(token)
        files = [p for p in self._folder(token).iterdir() if p.name != ITEM_FILE and p.is_file()]
        if len(files) != 1:
            raise NotFoundError(f"the trashed file of {item.rel_path} is missing")
        return files[0]

    def restore(self, token: str) -> str:
        """Move the file back to where it was (``name-<token>.ext`` if that name is taken
        now); returns its library path. The trash item is removed after the move."""
        item = self.get(token)
        target = self.inside_library(item.rel_path)
        source = self.file_of(token)
        if target.exists():
            target = target.with_name(f"{target.stem}-{token[-6:]}{target.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)
        fsync_dir(target.parent)
        shutil.rmtree(self._folder(token))
        rel = target.relative_to(self.library).as_posix()
        log.info("event=restored path=%s token=%s", rel, token)
        return rel

    def empty(self) -> int:
        """Delete every trashed photo for good; returns how many photos were deleted."""
        items = self.items()
        for item in items:
            shutil.rmtree(self._folder(item.token))
        log.info("event=trash_emptied photos=%d", len(items))
        return len(items)

    def _folder(self, token: str) -> Path:
        if not _TOKEN.match(token):
            raise NotFoundError(f"nothing in the trash is called {token!r}")
        return self.root / token

    def _read(self, folder: Path) -> TrashItem | None:
        try:
            raw = json.loads((folder / ITEM_FILE).read_text(encoding="utf-8"))
            return TrashItem(
                folder.name, str(raw["rel_path"]), int(raw["photo_id"]), str(raw["trashed_at"])
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("event=trash_item_unreadable folder=%s error=%r", folder, exc)
            return None


class LibraryTrash:
    """The trash, the photo rows and the live vector index moved together (web UI, API).

    ``store`` is None in a process without the live index (the USB import unit): a
    restore there bumps the library generation, so the daemon re-opens its index at its
    next index run (the import unit always asks for one when it ends).
    """

    def __init__(self, settings: Settings, library: Library, store: IndexStore | None) -> None:
        self.files = Trash(settings.library_dir)
        self.library = library
        self.store = store
        self.thumbs_dir = settings.thumbs_dir

    def move_in(self, photos: list[Photo]) -> list[TrashItem]:
        """Trash the photos' files; each leaves search and the timeline at once."""
        items = []
        for photo in photos:
            item = self.files.move_in(photo.rel_path, photo.id)
            before = self.library.index_generation()
            self.library.trash_photo(photo.id, item.key)
            if self.store is not None:
                self.store.current().remove(np.asarray([photo.id], dtype=np.int64))
                self.store.advance(before, self.library.index_generation())
            items.append(item)
        return items

    def restore(self, token: str) -> tuple[str, bool]:
        """(library path, True if the photo is back under its old id). False: an item
        trashed by an older release, which the next index run adds as a new photo."""
        item = self.files.get(token)
        rel_path = self.files.restore(token)
        before = self.library.index_generation()
        kept_id = self.library.restore_photo(item.photo_id, item.key, rel_path)
        if self.store is not None:
            if kept_id:
                self._add_to_index(item.photo_id, self.store)
            self.store.advance(before, self.library.index_generation())
        return rel_path, kept_id

    def restore_content(self, sha256: str) -> str | None:
        """A photo uploaded or imported again while it is in the trash comes back from the
        trash, under its old id (what Immich and Google Photos do), instead of being
        dropped as a duplicate; returns its library path. None when the library already
        holds these bytes (a duplicate) or nothing in the trash does (a new photo)."""
        if self.library.in_library(sha256):
            return None
        for photo_id, key in self.library.trashed_with(sha256):
            token = key.split("/")[1] if key.startswith(f"{TRASH_DIR}/") else ""
            try:
                rel_path, _kept_id = self.restore(token)
            except NotFoundError as exc:  # its trash folder is gone: not restorable
                log.warning("event=trash_restore_skipped photo_id=%d reason=%s", photo_id, exc)
                continue
            log.info("event=restored_by_upload path=%s photo_id=%d", rel_path, photo_id)
            return rel_path
        return None

    def _add_to_index(self, photo_id: int, store: IndexStore) -> None:
        photo = self.library.get_photo(photo_id)
        vector = self.library.get_embedding(photo_id)
        if photo.status == "indexed" and photo.bundle_id == store.bundle_id and vector is not None:
            store.current().add(np.asarray([photo.id], dtype=np.int64), vector[None, :])

    def empty(self) -> int:
        """Delete every trashed photo for good: files, rows, unshared thumbnails."""
        items = self.files.items()
        deleted = self.files.empty()
        for sha in set(self.library.forget_trashed([i.photo_id for i in items])):
            if not self.library.find_by_sha256(sha):
                thumbnail_path(self.thumbs_dir, sha).unlink(missing_ok=True)
        return deleted
