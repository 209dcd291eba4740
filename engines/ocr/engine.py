"""`OcrEngine`: detection -> rotated crops -> direction -> recognition, on bundle runners.

Each PP-OCR model runs through the same `TowerRunner` backends as the CLIP towers
(ONNX Runtime, OpenVINO, TensorRT), so inputs are checked against the manifest's
`TensorSpec` before a backend sees them. Nothing here imports Paddle, torch or rapidocr.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from engines.base import TowerRunner
from engines.closing import Closing
from engines.errors import EngineError
from engines.ocr import recognize
from engines.ocr.detect import DetParams, boxes_from_map, det_input

log = logging.getLogger(__name__)

CLS_THRESH = 0.9
REC_BATCH = 8
REC_MAX_WIDTH = 1600


@dataclass(frozen=True)
class OcrLine:
    """One recognised line: text, confidence in [0, 1], box corners TL,TR,BR,BL (pixels)."""

    text: str
    score: float
    box: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class OcrResult:
    """Lines of one image (reading order: top to bottom, then left to right)."""

    lines: tuple[OcrLine, ...]
    width: int
    height: int
    boxes_found: int  # detections before dropping low-confidence recognitions

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


class OcrEngine(Closing):
    """Reads text in photos with three loaded runners (det, cls optional, rec)."""

    def __init__(
        self,
        det: TowerRunner,
        rec: TowerRunner,
        classes: Sequence[str],
        cls: TowerRunner | None = None,
        params: DetParams | None = None,
        min_score: float = 0.5,
        cls_shape: tuple[int, int] = (48, 192),
    ) -> None:
        self.det, self.rec, self.cls = det, rec, cls
        self.classes = list(classes)
        self.params = params or DetParams()
        self.min_score = min_score
        self.cls_shape = cls_shape
        self.rec_height = _fixed_dim(rec, 2, 48)

    def detect(self, img: Image.Image | np.ndarray) -> list[np.ndarray]:
        """Text boxes only: the cheap gate (no boxes = no text, recognition skipped)."""
        rgb = _rgb(img)
        return self._detect(rgb)[0]

    def read(self, img: Image.Image | np.ndarray) -> OcrResult:
        """Full OCR of one image."""
        rgb = _rgb(img)
        boxes, _ = self._detect(rgb)
        lines = self.read_boxes(rgb, boxes)
        return OcrResult(tuple(lines), rgb.shape[1], rgb.shape[0], len(boxes))

    def read_boxes(self, rgb: np.ndarray, boxes: Sequence[np.ndarray]) -> list[OcrLine]:
        """Recognise given boxes (sorted into reading order); drops lines below min_score."""
        boxes = sorted(boxes, key=lambda b: (round(float(b[0, 1]) / 10), float(b[0, 0])))
        if not boxes:
            return []
        crops = [recognize.crop_box(rgb, b) for b in boxes]
        if self.cls is not None:
            crops = self._upright(crops)
        texts = self._recognize(crops)
        return [
            OcrLine(text.strip(), score, tuple((float(x), float(y)) for x, y in box))
            for (text, score), box in zip(texts, boxes, strict=True)
            if score >= self.min_score and text.strip()
        ]

    def _detect(self, rgb: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
        x, rh, rw = det_input(rgb, self.params)
        prob = self.det.run(x)
        return boxes_from_map(prob[0, 0], rh, rw, rgb.shape[:2], self.params)

    def _upright(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Turn crops the direction classifier calls upside down (label '180')."""
        assert self.cls is not None
        h, w = self.cls_shape
        batch = np.stack([recognize.normalize_crop(c, h, w, w) for c in crops])
        probs = self.cls.run(batch)
        return [
            np.rot90(c, 2).copy() if p.argmax() == 1 and p[1] > CLS_THRESH else c
            for c, p in zip(crops, probs, strict=True)
        ]

    def _recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        h = self.rec_height
        for group in recognize.width_batches(crops, REC_BATCH):
            widest = max(int(np.ceil(h * crops[i].shape[1] / crops[i].shape[0])) for i in group)
            width = min(REC_MAX_WIDTH, max(h * 2, widest))
            batch = np.stack([recognize.normalize_crop(crops[i], h, width, width) for i in group])
            try:
                decoded = recognize.ctc_decode(self.rec.run(batch), self.classes)
            except ValueError as exc:
                raise EngineError(f"OCR recognition: {exc}: rebuild the bundle's OCR") from exc
            for i, item in zip(group, decoded, strict=True):
                out[i] = item
        return out

    def describe(self) -> dict[str, str]:
        info = {f"det.{k}": v for k, v in self.det.describe().items()}
        info.update({f"rec.{k}": v for k, v in self.rec.describe().items()})
        if self.cls is not None:
            info.update({f"cls.{k}": v for k, v in self.cls.describe().items()})
        return info

    def close(self) -> None:
        for runner in (self.det, self.rec, self.cls):
            if runner is not None:
                runner.close()


def _fixed_dim(runner: TowerRunner, axis: int, default: int) -> int:
    dim = runner.input_spec.shape[axis]
    return dim if dim > 0 else default


def _rgb(img: Image.Image | np.ndarray) -> np.ndarray:
    """HWC uint8 RGB from a PIL image or an array (grey and RGBA accepted)."""
    if isinstance(img, Image.Image):
        return np.asarray(img.convert("RGB"))
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype != np.uint8:
        raise EngineError(f"OCR needs an HxWx3 uint8 RGB image, got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr[:, :, :3])
