"""Faces SQL of the library: per-photo face status, faces with their descriptors.

A status row records the photo's sha256 (a changed file is scanned again) and is written
in the same transaction as the photo's faces, so ``kill -9`` at any point loses at most
the photo being scanned and never doubles a face. Descriptors are float32 blobs (128-d,
512 bytes: dlib's distances are Euclidean, no re-normalisation). People and their
operations are in `edge_app.library.people_store`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_app.errors import LibraryError
from edge_app.library.connection import SqliteStore
from edge_app.library.records import PendingPhoto, utc_now
from edge_app.library.trash_rows import LIVE_IDS_SQL

FACE_STATES = ("done", "no_faces", "failed")
FACES_ENABLED_KEY = "faces_enabled"
FACES_GUESTS_KEY = "faces_guests"

#: Photos showing a person given by name (case-insensitive): for `PhotoFilter.people`.
PERSON_PHOTOS_SQL = (
    "SELECT f.photo_id FROM faces f JOIN people pe ON pe.id = f.person_id WHERE pe.name = :{param}"
)


@dataclass(frozen=True)
class FaceRow:
    """One face to store: box as fractions (x0, y0, x1, y1) of the upright photo."""

    box: tuple[float, float, float, float]
    score: float
    quality: float
    embedding: np.ndarray
    person_id: int | None = None
    crop_path: str | None = None


@dataclass(frozen=True)
class StoredFace:
    id: int
    photo_id: int
    box: tuple[float, ...]
    score: float
    quality: float
    person_id: int | None
    pinned: bool
    crop_path: str | None


def face_from_row(r: dict[str, Any]) -> StoredFace:
    return StoredFace(
        int(r["id"]), int(r["photo_id"]), tuple(json.loads(r["box"])), float(r["score"]),
        float(r["quality"]), r["person_id"], bool(r["pinned"]), r["crop_path"],
    )  # fmt: skip


def vectors(blobs: Sequence[bytes]) -> np.ndarray:
    if not blobs:
        return np.zeros((0, 128), np.float32)
    return np.stack([np.frombuffer(b, np.float32) for b in blobs])


_FACE_COLUMNS = "f.id, f.photo_id, f.box, f.score, f.quality, f.person_id, f.pinned, f.crop_path"


class FaceStore(SqliteStore):
    """Face status and faces (part of `Library`; face statements live here)."""

    def faces_enabled(self) -> bool:
        return self.get_meta(FACES_ENABLED_KEY, "0") == "1"

    def faces_for_guests(self) -> bool:
        return self.get_meta(FACES_GUESTS_KEY, "0") == "1"

    def photos_needing_faces(self, limit: int | None = None) -> list[PendingPhoto]:
        """Indexed photos without a face status for their current content, by id."""
        return self.pending_photos("face_status", limit)

    def record_faces(
        self, photo_id: int, sha256: str | None, state: str, faces: Sequence[FaceRow] = (),
        *, reason: str | None = None, seconds: float | None = None,
    ) -> list[int]:  # fmt: skip
        """Replace the photo's faces and status in ONE transaction; returns the face ids."""
        if state not in FACE_STATES:
            raise LibraryError(f"face state must be one of {FACE_STATES}, got {state!r}")
        with self.transaction():
            if not self.faces_enabled():
                raise LibraryError("People was turned off while faces were being found")
            touched = self._people_of_photo(photo_id)
            self._exec("DELETE FROM faces WHERE photo_id = ?", [photo_id])
            ids = [self._insert_face(photo_id, i, face) for i, face in enumerate(faces)]
            self._exec(
                "INSERT OR REPLACE INTO face_status (photo_id, sha256, state, reason, faces, "
                "seconds, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [photo_id, sha256, state, reason, len(faces), seconds, utc_now()],
            )
            self.refresh_people({*touched, *(f.person_id for f in faces if f.person_id)})
        return ids

    def _insert_face(self, photo_id: int, face_no: int, face: FaceRow) -> int:
        vec = np.asarray(face.embedding, np.float32).reshape(-1)
        if vec.size != 128 or not np.all(np.isfinite(vec)):
            raise LibraryError(
                "a face descriptor must be 128 finite numbers: check the face models"
            )
        row = self._exec(
            "INSERT INTO faces (photo_id, face_no, box, score, quality, embedding, person_id, "
            "crop_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [photo_id, face_no, json.dumps(face.box), face.score, face.quality, vec.tobytes(),
             face.person_id, face.crop_path],
        ).fetchone()  # fmt: skip
        return int(row[0])

    def _people_of_photo(self, photo_id: int) -> set[int]:
        rows = self._rows(
            "SELECT DISTINCT person_id FROM faces WHERE photo_id = ? AND person_id IS NOT NULL",
            [photo_id],
        )
        return {int(r["person_id"]) for r in rows}

    def refresh_people(self, person_ids: Sequence[int] | set[int]) -> None:
        """Centroid (mean descriptor) and face count of each person; drop emptied people."""
        for pid in person_ids:
            rows = self._rows("SELECT embedding FROM faces WHERE person_id = ?", [pid])
            if not rows:
                self._exec("DELETE FROM people WHERE id = ? AND name IS NULL", [pid])
                self._exec("UPDATE people SET faces = 0, centroid = NULL WHERE id = ?", [pid])
                continue
            mean = vectors([r["embedding"] for r in rows]).mean(axis=0).astype(np.float32)
            self._exec(
                "UPDATE people SET centroid = ?, faces = ? WHERE id = ?",
                [mean.tobytes(), len(rows), pid],
            )

    def face_counts(self) -> dict[str, int]:
        """Photos done / no_faces / failed / pending, faces found, assigned, people."""
        counts = self.state_counts("face_status", FACE_STATES)
        live = f"photo_id IN ({LIVE_IDS_SQL})"  # faces of trashed photos are not counted
        one = self._rows(
            f"SELECT (SELECT COUNT(*) FROM faces WHERE {live}) AS faces, (SELECT COUNT(*) FROM "
            f"faces WHERE person_id IS NOT NULL AND {live}) AS assigned, "
            "(SELECT COUNT(*) FROM people) AS people"
        )[0]
        counts.update({k: int(v) for k, v in one.items()})
        return counts

    def faces_of_photo(self, photo_id: int) -> list[StoredFace]:
        rows = self._rows(
            f"SELECT {_FACE_COLUMNS} FROM faces f WHERE f.photo_id = ? ORDER BY f.face_no",
            [photo_id],
        )
        return [face_from_row(r) for r in rows]

    def faces_by_ids(self, face_ids: Sequence[int]) -> list[StoredFace]:
        rows = self._rows(
            f"SELECT {_FACE_COLUMNS} FROM faces f WHERE f.id IN (SELECT value FROM json_each(?))",
            [json.dumps([int(i) for i in face_ids])],
        )
        return [face_from_row(r) for r in rows]

    def face_embeddings(self, face_ids: Sequence[int]) -> np.ndarray:
        rows = self._rows(
            "SELECT embedding FROM faces WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            [json.dumps([int(i) for i in face_ids])],
        )
        return vectors([r["embedding"] for r in rows])

    def unassigned_faces(
        self, min_quality: float, limit: int = 20_000
    ) -> tuple[list[int], np.ndarray]:
        """Faces in no person, good enough to cluster (newest first, at most ``limit``)."""
        rows = self._rows(
            "SELECT id, embedding FROM faces WHERE person_id IS NULL AND pinned = 0 AND quality >= ? "
            "ORDER BY id DESC LIMIT ?",
            [min_quality, limit],
        )
        return [int(r["id"]) for r in rows], vectors([r["embedding"] for r in rows])

    def rejected_pairs(self, face_ids: Sequence[int]) -> set[tuple[int, int]]:
        """(face_id, person_id) pairs a user said are NOT the same person."""
        rows = self._rows(
            "SELECT face_id, person_id FROM face_rejections WHERE face_id IN "
            "(SELECT value FROM json_each(?))",
            [json.dumps([int(i) for i in face_ids])],
        )
        return {(int(r["face_id"]), int(r["person_id"])) for r in rows}

    def face_crop_paths(self, person_id: int | None = None) -> list[str]:
        """Stored crop paths (relative to thumbs_dir) of one person, or of every face."""
        where, params = ("WHERE person_id = ?", [person_id]) if person_id is not None else ("", [])
        rows = self._rows(f"SELECT crop_path FROM faces {where}", params)
        return [str(r["crop_path"]) for r in rows if r["crop_path"]]
