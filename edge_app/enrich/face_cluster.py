"""Incremental grouping of faces into people (no full re-cluster per import).

1. A new face joins the person whose centroid (mean descriptor) is nearest, when that
   distance is under ``faces_threshold`` and the user never rejected the pair.
2. Faces still in nobody are grouped among themselves with chinese whispers (dlib's
   graph clustering) over the edges shorter than the same threshold; a group of at least
   ``MIN_GROUP`` faces becomes a new unnamed person. Singletons stay unassigned: an
   unknown face is left alone rather than wrongly merged.
3. A face within the threshold of a forgotten person's template is dropped unstored.

Faces a user placed or un-assigned (``pinned``) are never moved by this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge_app.library.store import Library

MIN_GROUP = 2
_BLOCK = 1024


@dataclass(frozen=True)
class Centroids:
    """A snapshot of the people's centroids, for assigning a photo's new faces."""

    ids: list[int]
    matrix: np.ndarray

    @classmethod
    def of(cls, library: Library) -> Centroids:
        ids, matrix = library.people_centroids()
        return cls(ids, matrix)

    def nearest(
        self, vec: np.ndarray, threshold: float, rejected: Sequence[int] = ()
    ) -> int | None:
        if not self.ids:
            return None
        dist = np.linalg.norm(self.matrix - vec[None, :], axis=1)
        for i in np.argsort(dist):
            if dist[i] >= threshold:
                return None
            if self.ids[int(i)] not in rejected:
                return self.ids[int(i)]
        return None


def is_forgotten(vec: np.ndarray, forgotten: np.ndarray, threshold: float) -> bool:
    return bool(len(forgotten)) and float(np.linalg.norm(forgotten - vec, axis=1).min()) < threshold


def edges_under(matrix: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (i < j) of rows closer than ``threshold``, computed in blocks (bounded memory)."""
    sq = (matrix * matrix).sum(axis=1)
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(matrix), _BLOCK):
        block = matrix[start : start + _BLOCK]
        d2 = sq[start : start + _BLOCK, None] + sq[None, :] - 2.0 * block @ matrix.T
        rows, cols = np.nonzero(d2 < threshold * threshold)
        pairs.extend(
            (start + int(r), int(c)) for r, c in zip(rows, cols, strict=True) if start + r < c
        )
    return pairs


def chinese_whispers(count: int, edges: list[tuple[int, int]]) -> list[int]:
    """dlib's chinese whispers labels for ``count`` nodes (every node has a self edge)."""
    from engines.faces.engine import import_dlib

    dlib = import_dlib()
    graph = [(i, i) for i in range(count)] + list(edges)
    return [int(x) for x in dlib.chinese_whispers(graph)] if count else []


def group_leftovers(library: Library, threshold: float, min_quality: float) -> int:
    """Steps 1 and 2 for the faces in nobody; returns how many people were created."""
    face_ids, matrix = library.unassigned_faces(min_quality)
    if not face_ids:
        return 0
    centroids = Centroids.of(library)
    rejected = library.rejected_pairs(face_ids)
    left: list[int] = []
    for fid, vec in zip(face_ids, matrix, strict=True):
        pid = centroids.nearest(vec, threshold, [p for f, p in rejected if f == fid])
        if pid is None:
            left.append(fid)
        else:
            library.assign_faces([fid], pid)
    return _new_people(library, left, library.face_embeddings(left), threshold)


def _new_people(library: Library, face_ids: list[int], matrix: np.ndarray, threshold: float) -> int:
    ordered = sorted(face_ids)  # face_embeddings returns rows by id
    labels = chinese_whispers(len(ordered), edges_under(matrix, threshold))
    groups: dict[int, list[int]] = {}
    for fid, label in zip(ordered, labels, strict=True):
        groups.setdefault(label, []).append(fid)
    made = 0
    for members in groups.values():
        if len(members) >= MIN_GROUP:
            library.create_person(members)
            made += 1
    return made
