"""Find, align and describe faces: dlib detects and aligns, ONNX Runtime describes.

Why this split (measured in docs/benchmarks/faces-cpu/): dlib-bin runs the ResNet
descriptor single-threaded through its own kernels (~0.075 CPU s per chip on the 2-core
box); the builder converts that network to ONNX (`build_engines.face_onnx`, parity gate
against dlib's own output) and ONNX Runtime runs it >10x faster on the same cores. The
HOG detector and the 5-point aligner are not networks (a few ms each) and stay in dlib. A
model folder without the ONNX file (built before the conversion) still works: dlib runs
the descriptor. Each descriptor is the mean of the chip's and its mirror image's when the
manifest says ``mirror`` (LFW: 98.61% -> 99.0%; a face and its mirror are the same person).

Detection runs at a fixed pixel budget: the photo is resized so its long side is
``det_side`` (small photos are enlarged up to 2x), which bounds the cost of a photo
without faces and sets the smallest face found (HOG's window is 80 px: faces of at least
``80 / det_side`` of the long side). Alignment is ``dlib.get_face_chip`` on the 5-point
landmarks; the 150x150 chip is both the descriptor's input and the stored face crop.

Concurrency: dlib objects are not documented as thread-safe, so every call into them
holds ``self._lock``: one engine is one runner, as the CLIP runners are.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines.closing import Closing
from engines.errors import FaceModelError
from engines.faces.models import ONNX_ROLE, REBUILD, FaceModelSpec, verify_face_models

DETECTORS = ("hog", "mmod")
MAX_ENLARGE = 2.0


@dataclass(frozen=True)
class FoundFace:
    """One face: box in the input image's pixels (x0, y0, x1, y1), detector score, descriptor."""

    box: tuple[int, int, int, int]
    score: float
    embedding: np.ndarray  # float32 (128,), Euclidean space (dlib: same person < ~0.6)
    chip: np.ndarray  # uint8 (150, 150, 3) aligned face

    @property
    def size(self) -> int:
        """The shorter side of the box, in input pixels."""
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])


def import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise FaceModelError(
            "dlib is not installed: install the `faces` extra (pip install -e '.[faces]')"
        ) from exc
    return dlib


class FaceEngine(Closing):
    """Detector + 5-point aligner + ResNet descriptor from one verified model folder."""

    def __init__(
        self, folder: Path, *, detector: str = "hog", det_side: int = 1024,
        min_score: float = 0.0, verify: bool = True, threads: int = 2, use_onnx: bool = True,
    ) -> None:  # fmt: skip
        if detector not in DETECTORS:
            raise FaceModelError(f"face detector must be one of {DETECTORS}, got {detector!r}")
        dlib = import_dlib()
        self.folder = Path(folder)
        self.spec = verify_face_models(folder) if verify else FaceModelSpec.load(folder)
        self.detector_name, self.det_side, self.min_score = detector, det_side, min_score
        self._lock = threading.Lock()
        self.last_seconds = (0.0, 0.0)  # (detection, landmarks + chips + descriptors) of the last call
        self.last_cpu_describe = 0.0  # CPU seconds of the process (ONNX Runtime's threads too)
        try:
            self._sp = dlib.shape_predictor(str(self.spec.path(folder, "landmarks5")))
            self._rec = dlib.face_recognition_model_v1(str(self.spec.path(folder, "descriptor")))
            self._det = (
                dlib.get_frontal_face_detector()
                if detector == "hog"
                else dlib.cnn_face_detection_model_v1(str(self.spec.path(folder, "mmod")))
            )
        except RuntimeError as exc:  # dlib's deserialisation error
            raise FaceModelError(f"cannot load the face models in {folder}: {exc}") from exc
        self._dlib = dlib
        self._onnx = (
            _onnx_session(self.spec.path(folder, ONNX_ROLE), threads)
            if use_onnx and self.spec.has_onnx
            else None
        )

    def describe(self) -> dict[str, str]:
        descriptor = "onnxruntime" if self._onnx is not None else "dlib"
        return {
            "runtime": f"dlib {self._dlib.__version__}, descriptor: {descriptor}",
            "mirror": str(self.spec.mirror),
            "detector": self.detector_name,
            "det_side": str(self.det_side),
            "source": self.spec.source,
        }

    def close(self) -> None:
        with self._lock:
            self._det = self._sp = self._rec = self._onnx = None

    def analyse(self, rgb: np.ndarray) -> list[FoundFace]:
        """Every face in an RGB uint8 image, boxes in that image's pixels."""
        scale = self._det_scale(rgb.shape[1], rgb.shape[0])
        det_img = _resized(rgb, scale)
        with self._lock:
            if self._rec is None:
                raise FaceModelError("the face engine was closed")
            t0 = time.perf_counter()
            found = self._detect(det_img)
            t1, c1 = time.perf_counter(), time.process_time()
            chips, vectors = self._describe(det_img, [rect for rect, _ in found])
            self.last_seconds = (t1 - t0, time.perf_counter() - t1)
            self.last_cpu_describe = time.process_time() - c1
        return [
            FoundFace(_unscale(rect, scale, rgb.shape), score, np.asarray(vec, np.float32), chip)
            for (rect, score), vec, chip in zip(found, vectors, chips, strict=True)
        ]

    def describe_box(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """Descriptor of the face in a given box (benchmarks: a crop where detection failed)."""
        rect = self._dlib.rectangle(*box)
        with self._lock:
            _, vectors = self._describe(np.ascontiguousarray(rgb), [rect])
        return np.asarray(vectors[0], np.float32)

    def _describe(self, img: np.ndarray, rects: Sequence[Any]) -> tuple[list[Any], Any]:
        """Landmarks, aligned chips and descriptors (the caller holds the lock)."""
        if not rects:
            return [], []
        shapes = self._dlib.full_object_detections()
        for rect in rects:
            shapes.append(self._sp(img, rect))
        chips = self._dlib.get_face_chips(img, shapes, self.spec.chip_size, self.spec.chip_padding)
        return chips, self._embed(chips)

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Descriptors of already aligned 150x150 chips (benchmarks on LFW-style crops)."""
        with self._lock:
            return self._embed(list(chips)) if chips else np.zeros((0, 128), np.float32)

    def _embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """(N, 128) descriptors; with ``mirror`` the mean of each chip's and its mirror's."""
        batch = np.stack([np.asarray(c, np.uint8) for c in chips])
        if self.spec.mirror:
            batch = np.concatenate([batch, batch[:, :, ::-1]])
        if self._onnx is not None:
            out = np.asarray(self._onnx.run(None, {"chips": batch})[0], np.float32)
        else:
            vectors = self._rec.compute_face_descriptor(list(batch))
            out = np.asarray([np.asarray(v, np.float32) for v in vectors], np.float32)
        if self.spec.mirror:
            out = np.asarray((out[: len(chips)] + out[len(chips) :]) / 2, np.float32)
        return out.reshape(-1, 128)

    def raw_descriptors(self, chips: Sequence[np.ndarray], runtime: str) -> np.ndarray:
        """One runtime's descriptors (``dlib`` or ``onnx``), no mirror: the parity gate and
        the benchmark compare the two on the same chips."""
        batch = [np.asarray(c, np.uint8) for c in chips]
        with self._lock:
            if runtime == "onnx":
                if self._onnx is None:
                    raise FaceModelError(f"{self.folder} has no ONNX descriptor: {REBUILD}")
                return np.asarray(self._onnx.run(None, {"chips": np.stack(batch)})[0], np.float32)
            vectors = self._rec.compute_face_descriptor(batch)
        return np.asarray([np.asarray(v, np.float32) for v in vectors], np.float32).reshape(-1, 128)

    def _det_scale(self, width: int, height: int) -> float:
        return min(MAX_ENLARGE, self.det_side / max(width, height, 1))

    def _detect(self, img: np.ndarray) -> list[tuple[Any, float]]:
        if self.detector_name == "hog":
            rects, scores, _ = self._det.run(img, 0, self.min_score)
            return list(zip(rects, (float(s) for s in scores), strict=True))
        return [
            (d.rect, float(d.confidence))
            for d in self._det(img, 0)
            if d.confidence >= self.min_score
        ]


def _onnx_session(path: Path, threads: int) -> Any:
    """ONNX Runtime on the CPU for the converted descriptor (`FaceModelError` if it cannot)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise FaceModelError(
            "onnxruntime is not installed: install the `faces` extra (pip install -e '.[faces]')"
        ) from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = max(1, threads), 1
    # no busy-waiting between runs: the box's 2 cores also serve search and indexing
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
        raise FaceModelError(f"cannot load the face descriptor {path}: {exc}") from exc


def _resized(rgb: np.ndarray, scale: float) -> np.ndarray:
    if abs(scale - 1.0) < 1e-3:
        return np.ascontiguousarray(rgb)
    from PIL import Image

    h, w = rgb.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def _unscale(rect: Any, scale: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x0, y0 = max(0, round(rect.left() / scale)), max(0, round(rect.top() / scale))
    x1, y1 = min(w, round((rect.right() + 1) / scale)), min(h, round((rect.bottom() + 1) / scale))
    return x0, y0, x1, y1


def open_faces(folder: Path, detector: str = "hog", det_side: int = 1024) -> FaceEngine:
    """The engine for a model folder; `FaceModelError` with what to do if it cannot load."""
    return FaceEngine(folder, detector=detector, det_side=det_side)
