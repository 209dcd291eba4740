"""Parity of converted OCR artifacts against ONNX Runtime fp32, on real photos.

Inputs are what the appliance will feed: detection inputs of `ocr_samples.parity_images`
(real photos with English and Chinese words) after the runtime's own bounded resize,
and the rotated crops the ONNX detector finds in them for the classifier and recogniser.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from build_engines.errors import ParityError
from engines.base import RunnerOptions, TowerRunner
from engines.manifest import Artifact, OcrSpec, Parity
from engines.ocr.detect import DetParams, boxes_from_map, det_input
from engines.ocr.recognize import crop_box, normalize_crop
from engines.registry import create_runner

REFERENCE = "onnxruntime-fp32"
REC_WIDTH = 320


def reference_inputs(root: Path, spec: OcrSpec) -> dict[str, list[np.ndarray]]:
    """tower -> list of input batches (det: one image each; cls/rec: one batch of crops)."""
    from build_engines.ocr_samples import parity_images

    params = DetParams()
    det_art = _onnx(spec, "ocr_det")
    dets: list[np.ndarray] = []
    crops: list[np.ndarray] = []
    with create_runner(root, det_art, RunnerOptions()) as det:
        for img in parity_images():
            rgb = np.asarray(img)
            x, rh, rw = det_input(rgb, params)
            dets.append(x)
            boxes, _ = boxes_from_map(det.run(x)[0, 0], rh, rw, rgb.shape[:2], params)
            crops.extend(crop_box(rgb, b) for b in boxes)
    if not crops:
        raise ParityError("the ONNX OCR detector found no text in the parity photos: bad model?")
    cls = np.stack([normalize_crop(c, 48, 192, 192) for c in crops])
    rec = np.stack([normalize_crop(c, 48, REC_WIDTH, REC_WIDTH) for c in crops])
    return {"ocr_det": dets, "ocr_cls": [cls], "ocr_rec": [rec]}


def _onnx(spec: OcrSpec, tower: str) -> Artifact:
    found = [a for a in spec.artifacts_for(tower) if a.backend == "onnxruntime"]
    if not found:
        raise ParityError(f"the OCR section has no ONNX {tower} reference artifact")
    return found[0]


def _outputs(root: Path, artifact: Artifact, batches: list[np.ndarray]) -> list[np.ndarray]:
    runner: TowerRunner = create_runner(root, artifact, RunnerOptions())
    with runner:
        return [runner.run(b) for b in batches]


def compare(reference: list[np.ndarray], got: list[np.ndarray]) -> tuple[Parity, dict[str, float]]:
    """Per-sample cosine of flattened outputs, max |diff| and argmax agreement."""
    cos: list[float] = []
    max_diff, agree, total = 0.0, 0, 0
    for ref, out in zip(reference, got, strict=True):
        if ref.shape != out.shape:
            raise ParityError(f"OCR output shape {out.shape} != reference {ref.shape}")
        a, b = ref.reshape(ref.shape[0], -1), out.reshape(out.shape[0], -1).astype(np.float32)
        num = np.sum(a * b, axis=1, dtype=np.float64)
        den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        cos.extend((num / np.clip(den, 1e-12, None)).tolist())
        max_diff = max(max_diff, float(np.abs(a - b).max()))
        same, count = _agreement(ref, out)
        agree, total = agree + same, total + count
    values = np.asarray(cos)
    if not np.all(np.isfinite(values)):
        raise ParityError("a converted OCR model produced NaN/inf")
    parity = Parity(float(values.min()), float(values.mean()), len(cos), REFERENCE)
    return parity, {"max_abs_diff": max_diff, "argmax_agreement": agree / max(total, 1)}


def _agreement(ref: np.ndarray, out: np.ndarray) -> tuple[int, int]:
    """Same decisions: text/no-text pixels of detection maps, argmax classes otherwise."""
    if ref.ndim == 4:
        a, b = ref > DetParams.thresh, out > DetParams.thresh
    else:
        a, b = ref.argmax(axis=-1), out.argmax(axis=-1)
    return int(np.sum(a == b)), int(a.size)


def measure_all(root: Path, spec: OcrSpec) -> OcrSpec:
    """The spec with `parity` and `checks` filled in for every non-reference artifact."""
    inputs = reference_inputs(root, spec)
    refs = {t: _outputs(root, _onnx(spec, t), inputs[t]) for t in inputs}
    artifacts: list[Artifact] = []
    checks: dict[str, dict[str, float]] = {}
    for art in spec.artifacts:
        if art.backend == "onnxruntime":
            artifacts.append(art)
            continue
        parity, detail = compare(refs[art.tower], _outputs(root, art, inputs[art.tower]))
        artifacts.append(replace(art, parity=parity))
        checks[art.key] = detail
    return replace(spec, artifacts=tuple(artifacts), checks=checks)
