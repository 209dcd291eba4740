"""Crops, direction classification input and CTC decoding for PP-OCR recognition.

Crops are perspective-warped from the rotated detection boxes (`cv2`), so slanted
text is read level; a crop much taller than wide is vertical text and is turned 90
degrees before recognition (PaddleOCR's rule). Recognition batches crops of similar
width together: each batch is padded only to its own widest crop.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

VERTICAL_RATIO = 1.5


def crop_box(rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The text inside a TL,TR,BR,BL quadrilateral, warped upright (HWC uint8)."""
    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    width, height = max(width, 1), max(height, 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(box.astype(np.float32), target)
    crop = cv2.warpPerspective(
        rgb, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    if crop.shape[0] >= crop.shape[1] * VERTICAL_RATIO:
        crop = np.rot90(crop).copy()  # vertical text: read it as a (rotated) line
    return crop


def normalize_crop(crop: np.ndarray, height: int, width: int, max_width: int) -> np.ndarray:
    """Resize to `height` keeping aspect (capped at `max_width`), pad right to `width`.

    Returns (3, height, width) float32 in [-1, 1] (BGR, like PaddleOCR's training).
    """
    h, w = crop.shape[:2]
    new_w = min(max_width, width, max(1, int(np.ceil(height * w / h))))
    resized = cv2.resize(crop, (new_w, height), interpolation=cv2.INTER_LINEAR)
    x = resized[:, :, ::-1].astype(np.float32).transpose(2, 0, 1) / 255.0
    x = (x - 0.5) / 0.5
    out = np.zeros((3, height, width), dtype=np.float32)
    out[:, :, :new_w] = x
    return out


def width_batches(crops: Sequence[np.ndarray], batch: int) -> list[list[int]]:
    """Crop indices grouped by aspect ratio (similar widths pad little)."""
    order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / crops[i].shape[0])
    return [order[i : i + batch] for i in range(0, len(order), batch)]


def load_dictionary(text: str) -> list[str]:
    """PP-OCR's CTC classes: blank, the dictionary lines, then a space."""
    chars = [line.rstrip("\r") for line in text.split("\n")]
    if chars and chars[-1] == "":
        chars.pop()
    return ["", *chars, " "]


def ctc_decode(logits: np.ndarray, classes: Sequence[str]) -> list[tuple[str, float]]:
    """Greedy CTC: argmax per step, collapse repeats, drop blanks; score = mean prob."""
    if logits.shape[-1] != len(classes):
        raise ValueError(
            f"recognition model has {logits.shape[-1]} classes, the dictionary {len(classes)}"
        )
    idx = logits.argmax(axis=2)
    prob = logits.max(axis=2)
    out: list[tuple[str, float]] = []
    for row, probs in zip(idx, prob, strict=True):
        keep = np.ones(len(row), dtype=bool)
        keep[1:] = row[1:] != row[:-1]
        keep &= row != 0
        text = "".join(classes[i] for i in row[keep])
        out.append((text, float(probs[keep].mean()) if keep.any() else 0.0))
    return out
