"""`edge-bench tags`: zero-shot multi-label tagging quality on a labelled image folder.

Runs the appliance's own tagging maths (`edge_app.tags`: prompt ensembles, per-label
calibration over the evaluated images, threshold) through `engines.open`, and reports
per-label precision / recall / F1 of the assigned tags and AP of the calibrated scores,
plus multi-label mAP (mean AP over labels that occur). Metrics come from scikit-learn.

Ground truth (``--labels``): a COCO ``instances_*.json`` (labels = its categories, truth
= the categories annotated in each image) or a CSV ``image,labels`` with labels joined
by ``;``. ``--prompts`` (JSON ``{"label": ["prompt", ...]}``, optional) overrides the
default templates; ``--pooling any`` scores each label by its best prompt.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edge_bench.report import results_markdown

Truth = list[tuple[Path, set[str]]]


def load_truth(images: Path, labels_file: Path) -> tuple[Truth, list[str]]:
    """(image path, label set) for every image that exists, and the sorted label names."""
    if labels_file.suffix.lower() == ".json":
        items, names = _coco_instances(images, labels_file)
    else:
        items, names = _csv_truth(images, labels_file)
    if not items:
        raise ValueError(f"no image listed in {labels_file} exists under {images}")
    return items, names


def _coco_instances(images: Path, path: Path) -> tuple[Truth, list[str]]:
    data = json.loads(path.read_text("utf-8"))
    if "categories" not in data:
        raise ValueError(f"{path} is not a COCO instances file (no 'categories')")
    cats = {c["id"]: c["name"] for c in data["categories"]}
    per_image: dict[int, set[str]] = {}
    for ann in data.get("annotations", []):
        per_image.setdefault(ann["image_id"], set()).add(cats[ann["category_id"]])
    items = [
        (images / img["file_name"], per_image.get(img["id"], set()))
        for img in data["images"]
        if (images / img["file_name"]).is_file()
    ]
    return items, sorted(set(cats.values()))


def _csv_truth(images: Path, path: Path) -> tuple[Truth, list[str]]:
    items: Truth = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            labels = {lab.strip() for lab in (row.get("labels") or "").split(";") if lab.strip()}
            if (images / row["image"]).is_file():
                items.append((images / row["image"], labels))
    return items, sorted({lab for _p, labels in items for lab in labels})


def evaluate(
    truth: np.ndarray, z: np.ndarray, threshold: float, names: list[str]
) -> dict[str, Any]:
    """Per-label P/R/F1 at the threshold and AP of the scores; mAP over labels present."""
    from sklearn.metrics import average_precision_score, precision_recall_fscore_support

    predicted = z >= threshold
    p, r, f1, support = precision_recall_fscore_support(
        truth, predicted, average=None, zero_division=0
    )
    per_label: list[dict[str, Any]] = []
    aps: list[float] = []
    for j, name in enumerate(names):
        ap = float(average_precision_score(truth[:, j], z[:, j])) if truth[:, j].any() else None
        if ap is not None:
            aps.append(ap)
        per_label.append({
            "label": name, "support": int(support[j]), "precision": round(float(p[j]), 4),
            "recall": round(float(r[j]), 4), "f1": round(float(f1[j]), 4),
            "ap": None if ap is None else round(ap, 4),
        })  # fmt: skip
    micro = precision_recall_fscore_support(truth, predicted, average="micro", zero_division=0)
    return {
        "mAP": round(float(np.mean(aps)), 4) if aps else None,
        "micro": {"precision": round(float(micro[0]), 4), "recall": round(float(micro[1]), 4),
                  "f1": round(float(micro[2]), 4)},
        "per_label": per_label,
    }  # fmt: skip


def run_tags(
    images: Path,
    labels_file: Path,
    bundle: Path,
    options: dict[str, Any],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Embed the images, build label rows, calibrate, assign, score."""
    import engines
    from edge_app.tags import scoring
    from edge_app.tags.tagger import DEFAULT_TEMPLATES, rows_for

    items, names = load_truth(images, labels_file)
    if options.get("limit"):
        items = items[: options["limit"]]
    prompts: dict[str, list[str]] = {}
    if options.get("prompts"):
        prompts = json.loads(Path(options["prompts"]).read_text("utf-8"))
    with engines.open(bundle, prefer=options.get("prefer")) as encoder:
        log(f"embedding {len(items)} images with {encoder.bundle_id}")
        emb = np.concatenate([
            encoder.encode_images([Image.open(p).convert("RGB") for p, _ in items[i : i + 16]])
            for i in range(0, len(items), 16)
        ])  # fmt: skip
        rows = [
            rows_for(prompts.get(n) or [t.replace("{}", n) for t in DEFAULT_TEMPLATES],
                     encoder.encode_text, None, options.get("pooling", "mean"))
            for n in names
        ]  # fmt: skip
        model = encoder.manifest.model.id
    stacked = np.concatenate(rows)
    cos = scoring.pooled_scores(emb, stacked, scoring.offsets(rows))
    center, scale = scoring.calibrate(cos)
    z = scoring.calibrated(cos, center, scale)
    truth = np.array([[n in labels for n in names] for _p, labels in items], dtype=bool)
    result = evaluate(truth, z, float(options.get("threshold", 3.0)), names)
    return {"results": {"model": model, "images": len(items), "labels": len(names), **result}}


def tags_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    res = payload["results"]
    rows = [
        [
            x["label"],
            x["support"],
            x["precision"],
            x["recall"],
            x["f1"],
            x["ap"] if x["ap"] is not None else "–",
        ]
        for x in res["per_label"]
    ]
    intro = (
        f"Zero-shot multi-label tagging of {res['images']} images with {res['labels']} labels "
        f"({res['model']}): mAP **{res['mAP']}**, micro P/R/F1 {res['micro']['precision']} / "
        f"{res['micro']['recall']} / {res['micro']['f1']} at threshold "
        f"{payload['config'].get('threshold')}."
    )
    return results_markdown(
        "edge-bench tags",
        payload,
        intro,
        ["label", "n", "precision", "recall", "F1", "AP"],
        rows,
        charts,
    )
