"""The per-batch work of a packing run: decode on CPU workers, encode and read text in actors.

Each stage is a plain callable on a Ray Data numpy batch (``dict[str, np.ndarray]``), so
it runs (and is tested) without Ray too. They call the box's own code: `decode_file`
(the indexer's decode, EXIF and thumbnail), `engines.open` (the same artifact choice as
the box: ONNX Runtime / OpenVINO on CPU workers, TensorRT or CUDA ONNX Runtime where a
worker has a GPU and the bundle holds such an artifact) and the OCR pass's steps.
A photo that fails to decode keeps its row with an ``error`` and is skipped downstream:
the run goes on and the pack's manifest lists it.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge_app.indexing.pipeline import decode_file
from edge_app.indexing.scanner import ScannedFile
from edge_app.packs.format import meta_row, ocr_column
from engines.manifest import Manifest
from engines.preprocess import ImagePreprocessor

Batch = dict[str, np.ndarray]


def _objects(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def decode_batch(batch: Batch, bundle_dir: str, max_pixels: int) -> Batch:
    """Ray task form of `DecodeStage` (tasks scale with free CPUs; the stage is cached)."""
    return _decoder(bundle_dir, max_pixels)(batch)


@functools.lru_cache(maxsize=4)
def _decoder(bundle_dir: str, max_pixels: int) -> DecodeStage:
    return DecodeStage(bundle_dir, max_pixels)


class DecodeStage:
    """CPU task: hash, decode, EXIF, thumbnail and preprocess (pixels for the encoder)."""

    def __init__(self, bundle_dir: str, max_pixels: int) -> None:
        manifest = Manifest.load(Path(bundle_dir))
        self.model_size = manifest.image.size
        self.preprocess = ImagePreprocessor(manifest.image)
        self.max_pixels = max_pixels

    def __call__(self, batch: Batch) -> Batch:
        metas, thumbs, errors, pixels = [], [], [], []
        blank = np.zeros((3, self.model_size, self.model_size), np.float32)
        for rel, path, size, mtime in zip(
            batch["rel_path"], batch["abs_path"], batch["size"], batch["mtime_ns"], strict=True
        ):
            item = ScannedFile(str(rel), Path(str(path)), int(size), int(mtime))
            meta, decoded = decode_file(item, self.model_size, self.max_pixels)
            metas.append(json.dumps(meta_row(meta)))
            errors.append(decoded if isinstance(decoded, str) else "")
            thumbs.append(b"" if isinstance(decoded, str) else decoded.thumbnail_jpeg)
            pixels.append(blank if isinstance(decoded, str) else self.preprocess(decoded.image))
        return {
            "rel_path": batch["rel_path"], "abs_path": batch["abs_path"],
            "meta": _objects(metas), "thumb": _objects(thumbs), "error": _objects(errors),
            "pixels": np.stack(pixels),
        }  # fmt: skip


class EncodeStage:
    """Actor: loads the bundle once, encodes the pixels of every decoded photo."""

    def __init__(self, bundle_dir: str, prefer: str | None, threads: int | None = None) -> None:
        import engines

        self.encoder = engines.open(Path(bundle_dir), prefer=prefer, threads=threads)
        info = self.encoder.image_runner.describe()
        self.engine = f"{info['backend']}:{info['precision']}"
        self.ready_at = time.time()  # model loaded: the run's start-up ends here
        self._cpu = time.process_time()

    def __call__(self, batch: Batch) -> Batch:
        ok = np.asarray([not e for e in batch["error"]], dtype=bool)
        vectors = np.zeros((len(ok), self.encoder.dim), np.float32)
        if ok.any():
            vectors[ok] = self.encoder.encode_pixels(np.ascontiguousarray(batch["pixels"][ok]))
        out = {k: v for k, v in batch.items() if k != "pixels"}
        out["embedding"] = vectors
        out["engine"] = _objects([self.engine] * len(ok))
        out["ready_at"] = np.full(len(ok), self.ready_at)
        # This process's CPU since the last batch: with decode fused into this actor (CPU
        # clusters), decode + encode + Ray's in-process work, per photo (edge-bench pack).
        cpu, self._cpu = time.process_time() - self._cpu, time.process_time()
        out["cpu_s"] = np.full(len(ok), cpu / max(len(ok), 1))
        return out


class OcrStage:
    """Actor: the OCR pass's steps (decode for OCR, detect, read) for bundles with OCR."""

    def __init__(self, bundle_dir: str, prefer: str | None, settings: dict[str, int]) -> None:
        from engines.ocr import open_ocr

        self.reader = open_ocr(Path(bundle_dir), prefer=prefer, det_max_side=settings["det_side"])
        self.settings = settings

    def __call__(self, batch: Batch) -> Batch:
        states, lines = [], []
        for path, error in zip(batch["abs_path"], batch["error"], strict=True):
            state, rows = ("", []) if error else self._read(Path(str(path)))
            states.append(state)
            lines.append(json.dumps(rows))
        return {**batch, "ocr_state": _objects(states), "ocr_lines": _objects(lines)}

    def _read(self, path: Path) -> tuple[str, list[dict[str, Any]]]:
        from edge_app.enrich.ocr_pass import line_row, load_for_ocr
        from edge_app.errors import ImageDecodeError
        from engines.errors import EngineError

        try:
            rgb = load_for_ocr(path, self.settings["max_side"], self.settings["max_pixels"])
            boxes = self.reader.detect(rgb)
            found = list(self.reader.read_boxes(rgb, boxes)) if boxes else []
        except (ImageDecodeError, EngineError):
            return "failed", []
        rows = [line_row(line, rgb.shape[1], rgb.shape[0]) for line in found]
        return ("done" if rows else "no_text"), ocr_column(rows)


def row_dicts(batch: Batch) -> list[dict[str, Any]]:
    """A finished batch as plain rows for the pack writer (driver side)."""
    n = len(batch["rel_path"])
    ocr_state = batch.get("ocr_state", _objects([""] * n))
    ocr_lines = batch.get("ocr_lines", _objects(["[]"] * n))
    return [
        {
            "meta": json.loads(str(batch["meta"][i])), "thumb": bytes(batch["thumb"][i]),
            "error": str(batch["error"][i]), "embedding": batch["embedding"][i],
            "engine": str(batch["engine"][i]), "ocr_state": str(ocr_state[i]) or None,
            "ocr_lines": json.loads(str(ocr_lines[i])),
        }
        for i in range(n)
    ]  # fmt: skip


__all__ = ["DecodeStage", "EncodeStage", "OcrStage", "decode_batch", "row_dicts"]
