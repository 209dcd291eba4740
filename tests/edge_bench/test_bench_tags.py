"""`edge-bench tags` with the toy-shapes bundle on generated shape photos (real ONNX Runtime)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from build_engines.shapes import COLORS, SHAPES
from edge_bench.cli import main
from edge_bench.tags_bench import evaluate, load_truth


def test_evaluate_counts_precision_recall_and_ap() -> None:
    truth = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype=bool)
    z = np.array([[5.0, 0.0], [1.0, 0.0], [4.0, 6.0], [0.0, 0.0]])
    res = evaluate(truth, z, 3.0, ["a", "b"])
    a, b = res["per_label"]
    assert (a["precision"], a["recall"]) == (0.5, 0.5) and b["f1"] == 1.0
    assert a["ap"] == 0.8333 and b["ap"] == 1.0 and res["mAP"] == 0.9167  # (1 + 2/3) / 2, 1


def test_coco_instances_give_multi_label_truth(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    coco = {
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "gone.jpg"}],
        "categories": [{"id": 1, "name": "dog"}, {"id": 2, "name": "person"}, {"id": 3, "name": "car"}],
        "annotations": [{"image_id": 1, "category_id": 1}, {"image_id": 1, "category_id": 2}],
    }  # fmt: skip
    (tmp_path / "i.json").write_text(json.dumps(coco))
    items, names = load_truth(tmp_path, tmp_path / "i.json")
    assert names == ["car", "dog", "person"] and items == [(tmp_path / "a.jpg", {"dog", "person"})]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="not a COCO instances file"):
        load_truth(tmp_path, tmp_path / "bad.json")


def test_colours_and_shapes_reach_map_09(
    tmp_path: Path, toy_bundle: Path, shapes_photos: list[tuple[Path, object]]
) -> None:
    images = shapes_photos[0][0].parent
    labels = tmp_path / "truth.csv"
    with labels.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "labels"])
        for path, spec in shapes_photos:
            writer.writerow([path.name, f"{spec.color};{spec.shape}"])  # type: ignore[attr-defined]
    prompts = {c: [f"a {c} {s}" for s in SHAPES] for c in COLORS}
    prompts.update({s: [f"a {c} {s}" for c in COLORS] for s in SHAPES})
    (tmp_path / "prompts.json").write_text(json.dumps(prompts))
    out = tmp_path / "out"
    code = main([
        "tags", "--images", str(images), "--labels", str(labels), "--bundle", str(toy_bundle),
        "--prompts", str(tmp_path / "prompts.json"), "--pooling", "any", "--threshold", "0.75",
        "--prefer", "onnxruntime", "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    report = json.loads((out / "tags.json").read_text())
    assert report["results"]["mAP"] >= 0.9
    assert {x["label"] for x in report["results"]["per_label"]} == set(COLORS) | set(SHAPES)
    assert "mAP" in (out / "tags.md").read_text()
