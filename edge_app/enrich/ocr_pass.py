"""The OCR enrichment pass: read the text in indexed photos, after embedding.

Why a separate pass: embedding makes a photo searchable; OCR costs several times more
per photo, so it runs only on photos that are already indexed and never holds back
the first search. Each photo's lines and status are committed in one transaction
(`Library.record_ocr`), so ``kill -9`` at any point loses at most the photo being
read and never doubles a line; the next run picks up where the last commit ended.

The gate: detection runs first and is cheap; a photo where it finds no text is marked
``no_text`` and the direction classifier and recogniser are skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edge_app.errors import ImageDecodeError
from edge_app.failpoints import failpoint
from edge_app.indexing.progress import Progress
from edge_app.library.ocr_store import OcrLineRow
from edge_app.library.records import PendingPhoto
from edge_app.library.store import Library
from edge_app.settings import Settings
from engines.errors import EngineError

log = logging.getLogger(__name__)


class TextReader(Protocol):
    """What the pass needs from `engines.ocr.engine.OcrEngine`."""

    def detect(self, img: Image.Image | np.ndarray) -> list[np.ndarray]: ...
    def read_boxes(self, rgb: np.ndarray, boxes: Sequence[np.ndarray]) -> Sequence[Any]: ...
    def describe(self) -> dict[str, str]: ...


@dataclass
class OcrReport:
    """Outcome of one run of the pass."""

    done: int = 0
    no_text: int = 0
    failed: int = 0
    stopped: bool = False
    seconds: float = 0.0
    detect_seconds: float = 0.0
    read_seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "no_text": self.no_text,
            "failed": self.failed,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "detect_seconds": round(self.detect_seconds, 3),
            "recognize_seconds": round(self.read_seconds, 3),
            "failures": [{"path": p, "reason": r} for p, r in self.failures],
        }


def load_for_ocr(path: Path, max_side: int, max_pixels: int) -> np.ndarray:
    """Upright RGB pixels at most `max_side` long (JPEG draft mode: a 50 MP photo is cheap)."""
    try:
        with Image.open(path) as im:
            if im.width * im.height > max_pixels:
                raise ImageDecodeError(
                    f"image too large: {im.width}x{im.height} pixels exceeds the "
                    f"{max_pixels // 1_000_000} MP limit"
                )
            im.draft("RGB", (max_side, max_side))
            upright = ImageOps.exif_transpose(im).convert("RGB")
            upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            return np.asarray(upright)
    except FileNotFoundError as exc:
        raise ImageDecodeError(
            f"the file is gone ({path.name}); it is dropped on the next index run"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"image too large for this appliance ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f"not a readable image ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"damaged image ({exc})") from exc


class OcrPass:
    """Reads every indexed photo that has no OCR status for its current content."""

    def __init__(
        self, settings: Settings, library: Library, reader: TextReader, engine_id: str
    ) -> None:
        self.settings = settings
        self.library = library
        self.reader = reader
        self.engine_id = engine_id

    def run(
        self,
        progress: Progress | None = None,
        stop_event: threading.Event | None = None,
        limit: int | None = None,
    ) -> OcrReport:
        """Read pending photos one by one; stops cleanly between photos when asked."""
        progress = progress or Progress()
        todo = self.library.photos_needing_ocr(limit)
        progress.start()  # this pass's own Progress: "indexing" here means reading text
        progress.set_total(len(todo))
        report = OcrReport()
        start = time.perf_counter()
        for n, item in enumerate(todo, start=1):
            if stop_event is not None and stop_event.is_set():
                report.stopped = True
                break
            self._one(item, n, report, progress)
        report.seconds = time.perf_counter() - start
        progress.finish("stopped" if report.stopped else "done")
        return report

    def _one(self, item: PendingPhoto, n: int, report: OcrReport, progress: Progress) -> None:
        t0 = time.perf_counter()
        try:
            rgb = load_for_ocr(
                self.settings.library_dir / item.rel_path,
                self.settings.ocr_max_side,
                self.settings.max_image_pixels,
            )
            boxes = self.reader.detect(rgb)
            t1 = time.perf_counter()
            lines = list(self.reader.read_boxes(rgb, boxes)) if boxes else []
        except (ImageDecodeError, EngineError) as exc:
            self._fail(item, n, str(exc), report, progress)
            return
        t2 = time.perf_counter()
        report.detect_seconds += t1 - t0
        report.read_seconds += t2 - t1
        rows = [line_row(line, rgb.shape[1], rgb.shape[0]) for line in lines]
        state = "done" if rows else "no_text"
        failpoint("ocr-mid-photo", n)  # read, not committed
        self.library.record_ocr(
            item.photo_id, item.sha256, state, rows, engine=self.engine_id, seconds=t2 - t0
        )
        failpoint("ocr-after-commit", n)
        setattr(report, state, getattr(report, state) + 1)
        progress.advance(1, current=item.rel_path)

    def _fail(
        self, item: PendingPhoto, n: int, reason: str, report: OcrReport, progress: Progress
    ) -> None:
        log.warning("OCR of %s failed: %s", item.rel_path, reason)
        self.library.record_ocr(
            item.photo_id, item.sha256, "failed", reason=reason, engine=self.engine_id
        )
        report.failed += 1
        report.failures.append((item.rel_path, reason))
        progress.error(item.rel_path, reason)
        progress.advance(1, current=item.rel_path)


def line_row(line: Any, width: int, height: int) -> OcrLineRow:
    """Boxes are stored as fractions of the upright photo, so any display size can use them."""
    box = tuple((round(x / width, 5), round(y / height, 5)) for x, y in line.box)
    return OcrLineRow(str(line.text), round(float(line.score), 4), box)


def run_ocr(
    settings: Settings,
    library: Library,
    progress: Progress | None = None,
    stop_event: threading.Event | None = None,
    limit: int | None = None,
) -> OcrReport:
    """Open the bundle's OCR engine and run the pass (raises `OcrUnavailableError`)."""
    from engines.manifest import Manifest
    from engines.ocr import open_ocr

    manifest = Manifest.load(settings.bundle_dir)
    engine = open_ocr(
        settings.bundle_dir, prefer=settings.backend_prefer, det_max_side=settings.ocr_det_side
    )
    engine_id = manifest.ocr.source if manifest.ocr else "ocr"
    with engine:
        return OcrPass(settings, library, engine, engine_id).run(progress, stop_event, limit)
