"""`edge-bench recall` on the tiny bundle, small sizes: the appliance's IVF index against
exact search on both distributions (fields and recall, no timings)."""

from __future__ import annotations

from pathlib import Path

from build_engines.shapes import write_folder
from edge_bench.recall_study import RecallConfig, recall_markdown, run_recall


def test_recall_study_measures_the_appliance_index_on_both_distributions(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    write_folder(photos, n=12, seed=5, size=(64, 64), fmt="jpg")
    captions = tmp_path / "captions.txt"
    captions.write_text("image,caption\n" + "".join(f"x.jpg,a red circle {i}\n" for i in range(30)))
    cfg = RecallConfig(
        sizes=(3000,), bundle=tiny_bundle, photos=photos, captions=captions, queries=30,
        ann_threshold=1000,
    )  # fmt: skip
    payload = run_recall(cfg, lambda _m: None)
    rows = {r["distribution"]: r for r in payload["results"]}
    assert set(rows) == {"isotropic clusters", "photo-like"}
    assert payload["real_photos"]["count"] == 12
    for row in rows.values():
        assert row["kind"] == "ivf" and row["nlist"] > 1 and row["index_mb"] < row["float32_mb"]
        assert 1 <= row["spectrum"]["dims_90"] <= row["spectrum"]["dims_99"]
        for q in row["queries"].values():
            assert q["n"] == 30 and q["recall_at_10"] >= 0.9
    assert set(rows["photo-like"]["queries"]) == {"held-out", "far", "text (captions)"}
    md = recall_markdown({**payload, "command": "edge-bench recall", "machine": {}}, [])
    assert "photo-like" in md and "IVF" in md
