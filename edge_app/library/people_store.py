"""People SQL of the library: create, name, merge, move faces, reject, forget, purge.

Every operation is one transaction and ends with `FaceStore.refresh_people` for the
people it touched, so a centroid always matches its faces. A face a user placed is
``pinned``: clustering never moves it again. "Not this person" records a rejection pair
(the face is never assigned to that person again). "Forget" deletes the person's faces
(descriptors and crops) and keeps only their mean descriptor in ``forgotten_people``,
whose one job is to recognise that person's new faces and drop them unstored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_app.errors import FacesError, NotFoundError
from edge_app.library.face_store import (
    _FACE_COLUMNS,
    FACES_ENABLED_KEY,
    FACES_GUESTS_KEY,
    FaceStore,
    StoredFace,
    face_from_row,
    vectors,
)
from edge_app.library.records import utc_now
from edge_app.library.trash_rows import VISIBLE_IDS_SQL

MAX_NAME = 80


@dataclass(frozen=True)
class Person:
    id: int
    name: str | None
    faces: int
    photos: int
    cover_crop: str | None  # crop path (relative to thumbs_dir) of the best face

    @property
    def label(self) -> str:
        return self.name or f"Person {self.id}"


def clean_name(name: str) -> str:
    cleaned = " ".join(str(name).split())
    if not cleaned or len(cleaned) > MAX_NAME or '"' in cleaned:
        raise FacesError(f"a name needs 1 to {MAX_NAME} characters and no double quote: {name!r}")
    return cleaned


def _ids_json(ids: Sequence[int]) -> str:
    return json.dumps([int(i) for i in ids])


# Photo counts and the cover face come from shown photos only (not trashed, root online):
# the count is what the person's page lists.
_PERSON_SELECT = (
    "SELECT pe.id, pe.name, (SELECT COUNT(*) FROM faces f WHERE f.person_id = pe.id AND "
    f"f.photo_id IN ({VISIBLE_IDS_SQL})) AS faces, (SELECT COUNT(DISTINCT f.photo_id) FROM faces f "
    f"WHERE f.person_id = pe.id AND f.photo_id IN ({VISIBLE_IDS_SQL})) AS photos, "
    "(SELECT f.crop_path FROM faces f WHERE f.person_id = pe.id AND f.photo_id IN "
    f"({VISIBLE_IDS_SQL}) ORDER BY f.quality DESC, f.id LIMIT 1) AS cover FROM people pe"
)


def _person(r: dict[str, Any]) -> Person:
    return Person(int(r["id"]), r["name"], int(r["faces"]), int(r["photos"]), r["cover"])


class PeopleStore(FaceStore):
    """People and the user's corrections (part of `Library`)."""

    def people(self, limit: int = 500, offset: int = 0) -> list[Person]:
        """Named people first (by name), then the others by face count."""
        rows = self._rows(
            f"{_PERSON_SELECT} ORDER BY pe.name IS NULL, pe.name, pe.faces DESC, pe.id "
            "LIMIT ? OFFSET ?",
            [limit, offset],
        )
        return [_person(r) for r in rows]

    def get_person(self, person_id: int) -> Person:
        rows = self._rows(f"{_PERSON_SELECT} WHERE pe.id = ?", [person_id])
        if not rows:
            raise NotFoundError(f"no person {person_id}: see the People page for who is known")
        return _person(rows[0])

    def missing_person_names(self, names: Sequence[str]) -> list[str]:
        return [n for n in names if not self._rows("SELECT 1 FROM people WHERE name = ?", [n])]

    def person_faces(self, person_id: int, limit: int = 1000) -> list[StoredFace]:
        rows = self._rows(
            f"SELECT {_FACE_COLUMNS} FROM faces f WHERE f.person_id = ? "
            "ORDER BY f.quality DESC, f.id LIMIT ?",
            [person_id, limit],
        )
        return [face_from_row(r) for r in rows]

    def person_photo_ids(self, person_id: int) -> list[int]:
        rows = self._rows(
            "SELECT DISTINCT f.photo_id FROM faces f JOIN photos p ON p.id = f.photo_id "
            f"WHERE f.person_id = ? AND p.id IN ({VISIBLE_IDS_SQL}) "
            "ORDER BY p.taken_at DESC, p.id DESC",
            [person_id],
        )
        return [int(r["photo_id"]) for r in rows]

    def people_centroids(self) -> tuple[list[int], np.ndarray]:
        rows = self._rows("SELECT id, centroid FROM people WHERE centroid IS NOT NULL ORDER BY id")
        return [int(r["id"]) for r in rows], vectors([r["centroid"] for r in rows])

    def forgotten_centroids(self) -> np.ndarray:
        return vectors([r["centroid"] for r in self._rows("SELECT centroid FROM forgotten_people")])

    def create_person(self, face_ids: Sequence[int], *, pinned: bool = False) -> int:
        """A new unnamed person holding these faces (taken from whoever had them)."""
        with self.transaction():
            row = self._exec(
                "INSERT INTO people (created_at) VALUES (?) RETURNING id", [utc_now()]
            ).fetchone()
            pid = int(row[0])
            self._move(face_ids, pid, pinned)
        return pid

    def assign_faces(self, face_ids: Sequence[int], person_id: int) -> None:
        """Clustering's own assignment (not pinned)."""
        with self.transaction():
            self._move(face_ids, person_id, pinned=False)

    def move_faces(self, face_ids: Sequence[int], person_id: int | None) -> None:
        """A user's move (split / "this is X"), pinned; ``None`` leaves them in nobody, for good."""
        if person_id is not None:
            self.get_person(person_id)
        with self.transaction():
            self._move(face_ids, person_id, pinned=True)

    def _move(self, face_ids: Sequence[int], person_id: int | None, pinned: bool) -> None:
        ids = _ids_json(face_ids)
        before = self._rows(
            "SELECT DISTINCT person_id FROM faces WHERE id IN (SELECT value FROM json_each(?)) "
            "AND person_id IS NOT NULL",
            [ids],
        )
        if len(
            self._rows("SELECT id FROM faces WHERE id IN (SELECT value FROM json_each(?))", [ids])
        ) != len(set(face_ids)):
            raise NotFoundError(f"some of the faces {list(face_ids)[:10]} do not exist")
        self._exec(
            "UPDATE faces SET person_id = ?, pinned = ? WHERE id IN (SELECT value FROM json_each(?))",
            [person_id, int(pinned), ids],
        )
        touched = {int(r["person_id"]) for r in before}
        self.refresh_people(touched | ({person_id} if person_id is not None else set()))

    def reject_face(self, face_id: int) -> None:
        """ "Not this person": unassign the face and never give it to that person again."""
        rows = self._rows("SELECT person_id FROM faces WHERE id = ?", [face_id])
        if not rows:
            raise NotFoundError(f"no face {face_id}")
        pid = rows[0]["person_id"]
        with self.transaction():
            if pid is not None:
                self._exec(
                    "INSERT OR IGNORE INTO face_rejections (face_id, person_id) VALUES (?, ?)",
                    [face_id, pid],
                )
            self._exec("UPDATE faces SET person_id = NULL, pinned = 1 WHERE id = ?", [face_id])
            if pid is not None:
                self.refresh_people({int(pid)})

    def name_person(self, person_id: int, name: str | None) -> None:
        """Name (or un-name with ``None``); a taken name is an error: merge instead."""
        self.get_person(person_id)
        cleaned = clean_name(name) if name is not None else None
        taken = self._rows("SELECT id FROM people WHERE name = ? AND id != ?", [cleaned, person_id])
        if cleaned is not None and taken:
            raise FacesError(
                f"{cleaned!r} is already person {taken[0]['id']}: merge the two people instead"
            )
        with self.transaction():
            self._exec("UPDATE people SET name = ? WHERE id = ?", [cleaned, person_id])

    def merge_people(self, target: int, sources: Sequence[int]) -> None:
        """Every face of ``sources`` moves into ``target`` (kept as pinned); sources go."""
        for pid in (target, *sources):
            self.get_person(pid)
        others = [int(s) for s in sources if int(s) != target]
        with self.transaction():
            self._exec(
                "UPDATE faces SET person_id = ?, pinned = 1 WHERE person_id IN "
                "(SELECT value FROM json_each(?))",
                [target, _ids_json(others)],
            )
            self._exec(
                "DELETE FROM people WHERE id IN (SELECT value FROM json_each(?))",
                [_ids_json(others)],
            )
            self.refresh_people({target})

    def forget_person(self, person_id: int) -> list[str]:
        """Delete the person and their faces; keep one template to drop their new faces.

        Returns the crop paths to delete (files are the caller's job).
        """
        self.get_person(person_id)
        crops = self.face_crop_paths(person_id)
        with self.transaction():
            row = self._rows("SELECT centroid FROM people WHERE id = ?", [person_id])[0]
            if row["centroid"] is not None:
                self._exec(
                    "INSERT INTO forgotten_people (centroid, forgotten_at) VALUES (?, ?)",
                    [row["centroid"], utc_now()],
                )
            self._exec("DELETE FROM faces WHERE person_id = ?", [person_id])
            self._exec("DELETE FROM people WHERE id = ?", [person_id])
        return crops

    def set_faces_enabled(self, enabled: bool, *, guests: bool | None = None) -> list[str]:
        """Turn People on or off; off deletes EVERY face, person, template and status.

        Returns the crop paths to delete when turning off.
        """
        crops = [] if enabled else self.face_crop_paths()
        with self.transaction():
            if not enabled:
                for table in (
                    "face_rejections",
                    "faces",
                    "people",
                    "forgotten_people",
                    "face_status",
                ):
                    self._exec(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            self._set(FACES_ENABLED_KEY, "1" if enabled else "0")
            if guests is not None:
                self._set(FACES_GUESTS_KEY, "1" if guests else "0")
        return crops

    def _set(self, key: str, value: str) -> None:
        self._exec(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
