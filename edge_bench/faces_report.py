"""Runs the parts of `edge-bench faces` (see `edge_bench.faces_bench`) and writes the report."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_bench import faces_bench as fb
from edge_bench.faces_speed import descriptor_speed

GOALS = "LFW >= 0.990; detection recall >= 0.90; F1 >= 0.9 with 0 merged; <= 0.1 s/photo, <= 0.05 s/face"


def run_faces_bench(args: Any, log: Callable[[str], None]) -> dict[str, Any]:
    from engines.faces.engine import FaceEngine

    data: Path = args.data
    engines: dict[int, FaceEngine] = {}

    def engine(side: int) -> FaceEngine:
        if side not in engines:
            engines[side] = FaceEngine(args.models, detector=args.detector, det_side=side)
        return engines[side]

    def mmod(side: int) -> FaceEngine:
        return FaceEngine(args.models, detector="mmod", det_side=side)

    results: dict[str, Any] = {"engine": engine(args.det_side).describe()}
    started = time.perf_counter()
    log("faces: detection on the boxed group photos")
    boxed = data / "group_photos" / "dlib-pascal-voc"
    results["detection"] = fb.detection(engine, boxed, args.sides)
    mmod_sides = [side for side in args.mmod_sides if side > 0]
    if mmod_sides:
        log("faces: the same with the MMOD (CNN) detector")
        results["detection_mmod"] = fb.detection(mmod, boxed, mmod_sides)
    log("faces: threshold sweep on dlib_johns chips")
    results["johns_sweep"] = fb.johns_sweep(engine(args.det_side), data / "dlib_johns")
    log("faces: deepface_people through the face pass")
    answers, labels = fb.deepface_answers(
        engine(args.det_side), data / "deepface_people", args.det_side
    )
    results["clustering"] = [fb.clustering(answers, labels, t) for t in fb.SWEEP]
    results["cost"] = fb.cost(
        engine(args.det_side), sorted(args.plain.glob("*.jpg"))[: args.plain_limit], args.det_side
    )
    log("faces: descriptor speed, dlib vs ONNX Runtime, on the dlib_johns chips")
    chips = [fb._rgb(p) for p in sorted((data / "dlib_johns").glob("*/*.jpg"))]
    results["descriptor_speed"] = descriptor_speed(engine(args.det_side), chips)
    log(f"faces: LFW verification ({args.lfw_limit or 'all'} pairs)")
    results["verification"] = fb.verification(
        engine(args.det_side), data / "lfw_folds_1_3", log, args.lfw_limit,
        second=mmod(args.det_side) if args.lfw_mmod else None,
    )  # fmt: skip
    results["seconds"] = time.perf_counter() - started
    return results


def faces_markdown(payload: dict[str, Any], charts: list[str]) -> str:
    from edge_bench import report

    chosen = payload["config"]["threshold"]
    intro = (
        "People: dlib's HOG detector and 5-point alignment (dlib-bin), dlib's ResNet descriptor "
        "converted to ONNX (ONNX Runtime; each face = mean of its chip and the mirrored chip), "
        f"run through the product's own face pass and grouping code. Goals: {GOALS}. "
        "The machine was shared with other engineers' runs while measuring (nice 5)."
    )
    text = report.header(
        "People (faces) quality and cost", payload["command"], payload["machine"], intro
    )
    v = payload["verification"]
    unit_folds = ", ".join(f"{f['accuracy']:.4f}" for f in v["folds_unit_norm"])
    parts = [text, "## LFW verification (View 2, folds 1-3, threshold by 3-fold cross-validation)", "",
             report.table(["fold", "threshold (train folds)", "accuracy"],
                          [(f["fold"], f["threshold"], f["accuracy"]) for f in v["folds"]]),
             "", f"Mean accuracy **{v['accuracy']:.4f}** over {v['pairs']} pairs. The face used is the one whose "
             f"box holds the image centre; of {v['images']} images it was found by HOG in {v['found_by']['hog']}, "
             f"by the MMOD detector in {v['found_by']['mmod']} (HOG found no centred face), and "
             f"{v['found_by']['centre_box']} used the fixed centre box. The same descriptors scaled to unit length "
             f"(not what the product stores) give {v['accuracy_unit_norm']:.4f} "
             f"(folds {unit_folds}).", ""]  # fmt: skip
    det = [(r["det_side"], r["faces"], r["found"], r["recall"], r["precision"], r["seconds_per_photo"])
           for r in payload["detection"]]  # fmt: skip
    det += [(f"{r['det_side']} (MMOD)", r["faces"], r["found"], r["recall"], r["precision"],
             r["seconds_per_photo"]) for r in payload.get("detection_mmod", [])]  # fmt: skip
    parts += ["## Detection (43 hand-boxed faces, 9 PASCAL VOC photos, IoU >= 0.3)", "",
              report.table(["det_side", "faces", "found", "recall", "precision", "s/photo"], det), ""]  # fmt: skip
    sp = payload["descriptor_speed"]
    parts += [f"## Descriptor: dlib vs ONNX Runtime (same {sp['chips']} chips, one per call, interleaved)", "",
              report.table(["runtime", "s/chip (wall)", "CPU s/chip"],
                           [(r["runtime"], r["seconds_per_chip"], r["cpu_seconds_per_chip"]) for r in sp["rows"]]),
              "", f"Wall-clock ratio dlib / ONNX: **{sp['speedup_wall']:.1f}x**; largest difference between "
              f"their descriptors: {sp['max_abs_diff']:.1e}. The product runs 2 views per face (chip + mirror).", ""]  # fmt: skip
    head = ["threshold", "pairwise P", "pairwise R", "F1", "people", "merged", "unassigned photos"]
    for key, title in (("johns_sweep", "Threshold choice: dlib_johns chips (5 people, 55 chips)"),
                       ("clustering", "Clustering: deepface_people (13 people, 61 photos, 4 imports)")):  # fmt: skip
        rows = [(r["threshold"], r["pairwise_precision"], r["pairwise_recall"], r["pairwise_f1"],
                 r["people"], r["merged_people"], r["unassigned_photos"]) for r in payload[key]]  # fmt: skip
        parts += [f"## {title}", "", report.table(head, rows), ""]
    c = payload["cost"]
    parts += ["## Cost on 2 cores", "", report.table(
        ["photos", "without faces", "s/photo without faces (wall)", "p90 (wall)", "CPU s/photo",
         "faces timed", "s/face (wall)", "CPU s/face"],
        [(c["photos"], c["photos_without_faces"], c["seconds_per_photo_without_faces"],
          c["p90_seconds_without_faces"], c["cpu_seconds_per_photo_without_faces"],
          c["faces_timed_in"], c["seconds_per_face"], c["cpu_seconds_per_face"])]), "",
        f"Default threshold in the product: `faces_threshold = {chosen}`.", ""]  # fmt: skip
    return "\n".join(parts)
