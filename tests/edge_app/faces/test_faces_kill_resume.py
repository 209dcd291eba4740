"""``kill -9`` of a real `edge-app faces run` process mid-pass, then a restart.

``EDGE_TEST_KILL_AT`` makes the process SIGKILL itself after a photo's crops are written
but before its faces are committed (``faces-mid-photo:N``) or right after a commit
(``faces-after-commit:N``). The restart must end with the same faces as an uninterrupted
run: none lost, none doubled, every photo scanned once.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from edge_app.library.store import Library
from tests.edge_app.cli_process import edge_app_process
from tests.edge_app.faces.faces_fixtures import write_face_photos

REPO = Path(__file__).resolve().parents[3]


def _run(
    data: Path, bundle: Path, *command: str, hook: str | None = None
) -> subprocess.CompletedProcess[str]:
    return edge_app_process(data, bundle, *command, hook=hook)


def _faces(data: Path) -> dict[str, list[tuple[float, ...]]]:
    """rel_path -> face boxes, for every photo."""
    with Library.open_reader(data / "library.db") as lib:
        photos = [lib.find_by_rel_path(p) for p in lib.known_files()]
        return {p.rel_path: [f.box for f in lib.faces_of_photo(p.id)] for p in photos if p}


def _prepared(data: Path, bundle: Path) -> None:
    write_face_photos(data / "library")
    assert _run(data, bundle, "index", "--json").returncode == 0
    assert _run(data, bundle, "faces", "on").returncode == 0


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, faces_bundle: Path
) -> dict[str, list[tuple[float, ...]]]:
    data = tmp_path_factory.mktemp("faces-ref")
    _prepared(data, faces_bundle)
    assert _run(data, faces_bundle, "faces", "run", "--json").returncode == 0
    faces = _faces(data)
    assert sum(len(v) for v in faces.values()) >= 3
    return faces


@pytest.mark.parametrize("hook", ["faces-mid-photo:3", "faces-after-commit:2"])
def test_kill_during_face_pass_then_restart_loses_and_doubles_nothing(
    tmp_path: Path, faces_bundle: Path, reference: dict[str, list[tuple[float, ...]]], hook: str
) -> None:
    data = tmp_path / "data"
    _prepared(data, faces_bundle)
    killed = _run(data, faces_bundle, "faces", "run", "--json", hook=hook)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with Library.open_reader(data / "library.db") as lib:
        assert lib.face_counts()["pending"] == len(reference) - 2  # two photos committed
    resumed = _run(data, faces_bundle, "faces", "run", "--json")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["done"] + report["no_faces"] == len(reference) - 2  # only the rest
    assert _faces(data) == reference
    assert report["library"]["pending"] == 0 and report["library"]["people"] == 1
