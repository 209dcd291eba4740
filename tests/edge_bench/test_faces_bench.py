"""`edge-bench faces` metrics on generated data (the shared evaluation photos are never used
in tests): box matching, cross-validated threshold, pairwise scores, and the clustering run
through the real face pass with replayed detector answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_bench import faces_bench as fb
from engines.faces.engine import FoundFace

RNG = np.random.default_rng(3)


def test_box_matching_is_one_to_one() -> None:
    truth = [(0, 0, 10, 10), (20, 20, 30, 30)]
    found = [(1, 1, 11, 11), (0, 0, 10, 10), (50, 50, 60, 60)]
    assert fb.match(truth, found) == 1  # two found boxes overlap the first truth box...
    assert fb.match(truth, [*found, (21, 21, 31, 31)]) == 2  # ...the second needs its own
    assert (
        fb.iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0 and fb.iou((0, 0, 1, 1), (5, 5, 6, 6)) == 0.0
    )


def test_boxed_faces_reads_dlib_xml(tmp_path: Path) -> None:
    xml = ("<dataset><images><image file='a.jpg'><box top='5' left='10' width='20' height='30'/>"
           "<box top='1' left='1' width='2' height='2' ignore='1'/></image></images></dataset>")  # fmt: skip
    for name in ("training.xml", "testing.xml"):
        (tmp_path / name).write_text(xml)
    assert fb.boxed_faces(tmp_path) == {"a.jpg": [(10, 5, 30, 35)]}


def test_best_threshold_separates_and_pairwise_scores() -> None:
    dist = np.array([0.2, 0.3, 0.5, 0.8, 0.9])
    same = np.array([True, True, True, False, False])
    assert 0.5 < fb.best_threshold(dist, same) <= 0.8
    scores = fb.pairwise_scores(["a", "a", "b", "b", "c"], [1, 1, 2, None, 1])
    assert scores["merged_people"] == 1 and scores["unassigned_photos"] == 1
    assert scores["pairwise_precision"] == pytest.approx(1 / 3)  # (0,1) right, (0,4) (1,4) wrong
    assert scores["pairwise_recall"] == pytest.approx(1 / 2)


def test_clustering_runs_the_real_face_pass_on_replayed_faces() -> None:
    pytest.importorskip("dlib", reason="the `faces` extra (dlib-bin) is not installed")
    centres = [v / np.linalg.norm(v) for v in RNG.normal(size=(3, 128))]
    labels: dict[str, str] = {}
    answers: dict[str, list[FoundFace]] = {}
    for i in range(9):
        who = i % 3
        vec = (centres[who] + RNG.normal(scale=0.02, size=128)).astype(np.float32)
        chip = np.zeros((150, 150, 3), np.uint8)
        answers[f"p{i}.jpg"] = [FoundFace((0, 0, 100, 100), 2.0, vec, chip)]
        labels[f"p{i}.jpg"] = f"person{who}"
    result = fb.clustering(answers, labels, 0.5)
    assert result["pairwise_f1"] == 1.0 and result["merged_people"] == 0 and result["people"] == 3
    merged = fb.clustering(answers, labels, 1.9)  # a silly threshold merges everyone
    assert merged["merged_people"] == 1


def _face(box: tuple[int, int, int, int], score: float, value: float) -> FoundFace:
    return FoundFace(box, score, np.full(128, value, np.float32), np.zeros((150, 150, 3), np.uint8))


def test_lfw_uses_the_centred_face_then_the_second_detector_then_the_centre_box(
    tmp_path: Path,
) -> None:
    from PIL import Image

    Image.new("RGB", (250, 250), "grey").save(tmp_path / "a.jpg")
    side = _face((0, 60, 100, 160), 3.0, 1.0)  # another person, beside the subject
    centred = _face((80, 80, 170, 170), 0.2, 2.0)
    first = fb.ReplayFinder({"": [side, centred]})
    vec, how = fb.lfw_descriptor(first, tmp_path / "a.jpg")
    assert how == "hog" and vec[0] == 2.0  # not the higher-scoring face off-centre
    only_side = fb.ReplayFinder({"": [side]})
    vec, how = fb.lfw_descriptor(only_side, tmp_path / "a.jpg", fb.ReplayFinder({"": [centred]}))
    assert how == "mmod" and vec[0] == 2.0

    class Boxed(fb.ReplayFinder):
        def describe_box(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
            return np.full(128, 9.0, np.float32)

    vec, how = fb.lfw_descriptor(Boxed({"": [side]}), tmp_path / "a.jpg", only_side)
    assert how == "centre_box" and vec[0] == 9.0


def test_descriptor_speed_compares_dlib_and_onnx_on_the_same_chips(faces_bundle: Path) -> None:
    from edge_bench.faces_speed import descriptor_speed
    from engines.faces.engine import FaceEngine

    chips = [RNG.integers(0, 256, (150, 150, 3), np.uint8) for _ in range(2)]
    with FaceEngine(faces_bundle / "faces") as engine:
        result = descriptor_speed(engine, chips)
    assert [r["runtime"] for r in result["rows"]] == ["dlib", "onnx"]
    assert all(r["seconds_per_chip"] > 0 for r in result["rows"])
    assert result["max_abs_diff"] < 1e-4 and result["chips"] == 2
