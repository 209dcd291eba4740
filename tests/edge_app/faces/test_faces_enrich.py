"""`edge-app index` and `edge-app import` find faces like the daemon does once People is on
(`--no-faces` skips the pass; while People is off it is never mentioned). The real CLI,
SQLite, FAISS and dlib + ONNX Runtime on scikit-image's astronaut photos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_app.cli.main import EXIT_OK, main
from tests.edge_app.faces.faces_fixtures import (
    astronaut,
    write_face_photos,
    write_new_face_photo,
)

pytest.importorskip("dlib", reason="the `faces` extra (dlib-bin) is not installed")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().out


def _counts(capsys: pytest.CaptureFixture[str], base: list[str]) -> dict[str, int]:
    code, out = _run(capsys, *base, "faces", "status", "--json")
    assert code == EXIT_OK
    return dict(json.loads(out))


def test_index_and_import_chain_the_face_pass_when_people_is_on(
    tmp_path: Path, faces_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    write_face_photos(data / "library")
    base = ["--data-dir", str(data), "--bundle", str(faces_bundle)]
    code, out = _run(capsys, *base, "index")
    assert code == EXIT_OK and "faces" not in out  # People is off (the default): not a word
    assert _counts(capsys, base)["faces"] == 0

    assert _run(capsys, *base, "faces", "on")[0] == EXIT_OK
    code, out = _run(capsys, *base, "index")  # nothing new to embed; the faces still wait
    assert code == EXIT_OK and "Looked for faces in 4 photos" in out
    counts = _counts(capsys, base)
    assert (counts["done"], counts["no_faces"], counts["pending"]) == (3, 1, 0)
    assert counts["people"] == 1  # the same woman in three photos: one person

    write_new_face_photo(data / "library")
    code, out = _run(capsys, *base, "index", "--no-faces")
    assert code == EXIT_OK and "Finding faces skipped (--no-faces)." in out
    assert _counts(capsys, base)["pending"] == 1

    stick = tmp_path / "stick"
    stick.mkdir()
    astronaut().crop((10, 0, 500, 470)).save(stick / "astro_stick.jpg", quality=88)
    code, out = _run(capsys, *base, "import", str(stick))
    assert code == EXIT_OK and "Looked for faces in 2 photos" in out  # the waiting one too
    counts = _counts(capsys, base)
    assert (counts["done"], counts["pending"], counts["people"]) == (5, 0, 1)
