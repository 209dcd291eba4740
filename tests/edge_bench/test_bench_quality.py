"""`edge-bench quality` with the toy-shapes bundle on generated shape photos."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from edge_bench.captions import load_caption_set
from edge_bench.cli import main
from edge_bench.quality import recall_at_k


def test_recall_at_k_perfect_and_miss() -> None:
    sim = np.eye(3)
    assert recall_at_k(sim, [{0}, {1}, {2}], (1,)) == {"R@1": 1.0}
    assert recall_at_k(sim, [{1}, {2}, {0}], (1, 3)) == {"R@1": 0.0, "R@3": 1.0}


def test_caption_formats(tmp_path: Path) -> None:
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_bytes(b"x")
    coco = {
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}, {"id": 3, "file_name": "gone.jpg"}],
        "annotations": [
            {"image_id": 1, "caption": "one"}, {"image_id": 1, "caption": "uno"},
            {"image_id": 2, "caption": "two"}, {"image_id": 3, "caption": "missing"},
        ],
    }  # fmt: skip
    (tmp_path / "c.json").write_text(json.dumps(coco))
    items = load_caption_set(tmp_path, tmp_path / "c.json")
    assert [(i.path.name, i.captions) for i in items] == [
        ("a.jpg", ("one", "uno")),
        ("b.jpg", ("two",)),
    ]
    (tmp_path / "c.txt").write_text('image,caption\na.jpg,one dog\nb.jpg,"two, cats"\n')
    assert [i.captions for i in load_caption_set(tmp_path, tmp_path / "c.txt")] == [
        ("one dog",),
        ("two, cats",),
    ]
    (tmp_path / "f30k.txt").write_text("image_name| comment_number| comment\na.jpg| 0| a dog\n")
    assert load_caption_set(tmp_path, tmp_path / "f30k.txt")[0].captions == ("a dog",)


def test_quality_command(
    toy_bundle: Path, shapes_photos: list[tuple[Path, object]], tmp_path: Path
) -> None:
    from build_engines.shapes import ShapeSpec, caption

    folder = shapes_photos[0][0].parent
    captions = tmp_path / "captions.csv"
    with captions.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "caption"])
        for path, spec in shapes_photos[:16]:
            assert isinstance(spec, ShapeSpec)
            w.writerow([path.name, caption(spec)])
    out = tmp_path / "q"
    rc = main(
        [
            "quality",
            "--images",
            str(folder),
            "--captions",
            str(captions),
            "--bundle",
            str(toy_bundle),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    payload = json.loads((out / "quality.json").read_text())
    assert payload["images"] == 16 and payload["captions"] == 16
    for key in ("text_to_image", "image_to_text", "chance_text_to_image"):
        assert set(payload[key]) == {"R@1", "R@5", "R@10"}
        assert all(0.0 <= v <= 1.0 for v in payload[key].values())
    assert payload["text_to_image"]["R@10"] >= payload["text_to_image"]["R@1"]
    assert (out / "quality_recall.png").stat().st_size > 0
    assert "Recall" in (out / "quality.md").read_text()
