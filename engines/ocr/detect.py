"""Text detection around the PP-OCR DB model: bounded resize in, rotated boxes out.

Why OpenCV and pyclipper: the DB post-processing needs contour tracing
(`cv2.findContours`), minimum-area rotated rectangles (`cv2.minAreaRect`), polygon
mean scores (`cv2.fillPoly`) and the polygon offset that grows each shrunk text
kernel back to the full text ("unclip", `pyclipper` = the Clipper library that
PaddleOCR itself uses). Re-implementing those by hand would be slower and subtly
different from what the models were trained with.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pyclipper

MEAN = np.array([0.5, 0.5, 0.5], dtype=np.float32)
STD = np.array([0.5, 0.5, 0.5], dtype=np.float32)


@dataclass(frozen=True)
class DetParams:
    """DB post-processing knobs (PaddleOCR's defaults, rapidocr's config)."""

    max_side: int = 960  # bounded resize: a 50 MP photo is detected at <= 960 px
    min_side: int = 64
    thresh: float = 0.3
    box_thresh: float = 0.5
    unclip_ratio: float = 1.6
    max_candidates: int = 1000
    min_box_side: float = 3.0


def det_input(rgb: np.ndarray, params: DetParams) -> tuple[np.ndarray, float, float]:
    """HWC uint8 RGB -> (1,3,H',W') float32 with H',W' multiples of 32, and the ratios."""
    h, w = rgb.shape[:2]
    scale = min(1.0, params.max_side / max(h, w))
    if min(h, w) * scale < params.min_side:
        scale = params.min_side / min(h, w)
    nh = max(32, int(round(h * scale / 32)) * 32)
    nw = max(32, int(round(w * scale / 32)) * 32)
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    # PaddleOCR's models were trained on BGR (cv2.imread) images scaled to [-1, 1].
    x = (resized[:, :, ::-1].astype(np.float32) / 255.0 - MEAN) / STD
    return x.transpose(2, 0, 1)[None].copy(), nh / h, nw / w


def boxes_from_map(
    prob: np.ndarray, ratio_h: float, ratio_w: float, src_hw: tuple[int, int], params: DetParams
) -> tuple[list[np.ndarray], list[float]]:
    """(H',W') probability map -> quadrilaterals (4x2 float32, image pixels) and scores."""
    mask = cv2.dilate((prob > params.thresh).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes: list[np.ndarray] = []
    scores: list[float] = []
    for contour in contours[: params.max_candidates]:
        found = _box_from_contour(prob, contour, params)
        if found is None:
            continue
        box, score = found
        box[:, 0] = np.clip(box[:, 0] / ratio_w, 0, src_hw[1] - 1)
        box[:, 1] = np.clip(box[:, 1] / ratio_h, 0, src_hw[0] - 1)
        boxes.append(box)
        scores.append(score)
    return boxes, scores


def _box_from_contour(
    prob: np.ndarray, contour: np.ndarray, params: DetParams
) -> tuple[np.ndarray, float] | None:
    points, side = _min_box(contour)
    if side < params.min_box_side:
        return None
    score = _mean_score(prob, points)
    if score < params.box_thresh:
        return None
    expanded = unclip(points, params.unclip_ratio)
    if expanded is None:
        return None
    box, side = _min_box(expanded.reshape(-1, 1, 2))
    if side < params.min_box_side + 2:
        return None
    return box, score


def _min_box(contour: np.ndarray) -> tuple[np.ndarray, float]:
    """The minimum-area rotated rectangle, corners ordered TL, TR, BR, BL."""
    rect = cv2.minAreaRect(contour)
    return order_points(cv2.boxPoints(rect)), float(min(rect[1]))


def order_points(pts: np.ndarray) -> np.ndarray:
    """Order 4 corners clockwise from the top-left (what the crop step expects)."""
    pts = np.asarray(pts, dtype=np.float32).reshape(4, 2)
    by_x = pts[np.argsort(pts[:, 0])]
    left, right = by_x[:2], by_x[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], dtype=np.float32)


def _mean_score(prob: np.ndarray, box: np.ndarray) -> float:
    """Mean probability inside the box (DB's 'fast' score mode)."""
    h, w = prob.shape
    x0, x1 = (
        int(np.clip(np.floor(box[:, 0].min()), 0, w - 1)),
        int(np.clip(np.ceil(box[:, 0].max()), 0, w - 1)),
    )
    y0, y1 = (
        int(np.clip(np.floor(box[:, 1].min()), 0, h - 1)),
        int(np.clip(np.ceil(box[:, 1].max()), 0, h - 1)),
    )
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    shifted = (box - np.array([x0, y0], dtype=np.float32)).astype(np.int32)
    cv2.fillPoly(mask, [shifted.reshape(-1, 1, 2)], 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def unclip(box: np.ndarray, ratio: float) -> np.ndarray | None:
    """Grow a shrunk text kernel by area*ratio/perimeter (DB's inverse of its shrink)."""
    poly = box.astype(np.float64)
    area = abs(float(cv2.contourArea(poly.astype(np.float32))))
    length = float(cv2.arcLength(poly.astype(np.float32), True))
    if length <= 0:
        return None
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(poly.tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    grown = offset.Execute(area * ratio / length)
    if len(grown) != 1:
        return None
    return np.asarray(grown[0], dtype=np.float32)
