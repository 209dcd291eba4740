"""Incremental grouping on a real library with synthetic descriptors (no model needed).

Three tight groups of 128-d descriptors (two of 4 faces, one of 3) plus two loners
stand in for faces; the library, transactions and dlib's chinese whispers are real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_app.enrich.face_cluster import Centroids, edges_under, group_leftovers, is_forgotten
from edge_app.library.face_store import FaceRow
from edge_app.library.records import PhotoMeta
from edge_app.library.store import Library

pytest.importorskip("dlib", reason="the `faces` extra (dlib-bin) is not installed")
RNG = np.random.default_rng(7)


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


CENTRES = [_unit(RNG.normal(size=128)) for _ in range(5)]  # pairwise ~1.4 apart


def _face(centre: int, noise: float = 0.02) -> np.ndarray:
    return (CENTRES[centre] + RNG.normal(scale=noise, size=128)).astype(np.float32)


@pytest.fixture
def library(tmp_path: Path) -> Library:
    lib = Library(tmp_path / "library.db")
    lib.set_faces_enabled(True)
    return lib


def _store(lib: Library, centres: list[int]) -> None:
    for i, centre in enumerate(centres):
        meta = PhotoMeta(rel_path=f"p{i}.jpg", sha256=f"s{i}", size=1, mtime_ns=1)
        pid = lib.record_photo(meta, np.ones(4, np.float32), "b")
        row = FaceRow((0.1, 0.1, 0.3, 0.3), 1.0, 0.9, _face(centre))
        lib.record_faces(pid, f"s{i}", "done", [row])


def _groups(lib: Library) -> list[int]:
    return sorted(p.faces for p in lib.people())


def test_groups_form_people_and_loners_stay_unassigned(library: Library) -> None:
    _store(library, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 4])
    assert group_leftovers(library, 0.5, 0.3) == 3
    assert _groups(library) == [3, 4, 4]
    assert library.face_counts()["assigned"] == 11  # the two loners are in nobody


def test_new_faces_join_existing_people_without_reclustering(library: Library) -> None:
    _store(library, [0, 0, 1, 1])
    group_leftovers(library, 0.5, 0.3)
    ids, _ = library.people_centroids()
    centroids = Centroids.of(library)
    assert centroids.nearest(_face(0), 0.5) in ids
    assert centroids.nearest(_face(2), 0.5) is None  # a stranger is not forced into anyone
    first = centroids.nearest(_face(0), 0.5)
    assert first is not None
    assert centroids.nearest(_face(0), 0.5, rejected=[first]) is None  # "not this person"


def test_edges_and_forgotten_templates() -> None:
    m = np.stack([_face(0), _face(0), _face(1)])
    assert edges_under(m, 0.5) == [(0, 1)]
    assert is_forgotten(_face(1), np.stack([CENTRES[1]]), 0.5)
    assert not is_forgotten(_face(1), np.zeros((0, 128), np.float32), 0.5)


def test_user_placed_faces_are_never_moved(library: Library) -> None:
    _store(library, [0, 0, 0])
    group_leftovers(library, 0.5, 0.3)
    person = library.people()[0].id
    face = library.person_faces(person)[0].id
    library.move_faces([face], None)  # the user took it out
    group_leftovers(library, 0.5, 0.3)
    assert face not in [f.id for f in library.person_faces(person)]
