"""The face pass: find, align and describe faces in indexed photos, after embedding.

Like the OCR pass it runs only on photos that are already searchable, one photo per
transaction (`Library.record_faces`), so ``kill -9`` loses at most the photo being
scanned and never doubles a face; the next run picks up where the last commit ended.
Crops are written before the commit under a name fixed by photo and face number, so a
crash leaves at most a file that the retry overwrites. Each new face is assigned to a
person as it is stored; the faces left in nobody are grouped at the end of the run
(`edge_app.enrich.face_cluster`).
"""

from __future__ import annotations

import logging
import math
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from edge_app.enrich.face_cluster import Centroids, group_leftovers, is_forgotten
from edge_app.enrich.ocr_pass import load_for_ocr
from edge_app.errors import FacesDisabledError, ImageDecodeError
from edge_app.failpoints import failpoint
from edge_app.indexing.progress import Progress
from edge_app.library.face_store import FaceRow
from edge_app.library.records import PendingPhoto
from edge_app.library.store import Library
from edge_app.settings import Settings
from engines.errors import EngineError
from engines.faces.engine import FoundFace

log = logging.getLogger(__name__)
CROPS_DIR = "faces"
FULL_SIZE_PX = 100  # a face this many pixels wide (or more) in the photo has full size quality


class FaceFinder(Protocol):
    """What the pass needs from `engines.faces.engine.FaceEngine`."""

    def analyse(self, rgb: np.ndarray) -> list[FoundFace]: ...
    def describe(self) -> dict[str, str]: ...


@dataclass
class FaceReport:
    done: int = 0
    no_faces: int = 0
    failed: int = 0
    faces: int = 0
    assigned: int = 0
    dropped_forgotten: int = 0
    new_people: int = 0
    stopped: bool = False
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "failures"}
        data["seconds"] = round(self.seconds, 3)
        data["failures"] = [{"path": p, "reason": r} for p, r in self.failures]
        return data


def face_quality(face: FoundFace, score_offset: float = -0.5) -> float:
    """0..1: box size (full at 100 px) times a squashed detector score."""
    size = min(1.0, face.size / FULL_SIZE_PX)
    confidence = 1.0 / (1.0 + math.exp(-4.0 * (face.score + score_offset)))
    return round(size * confidence, 4)


def crop_name(photo_id: int, face_no: int) -> str:
    return f"{CROPS_DIR}/{photo_id // 1000:04d}/{photo_id}_{face_no}.jpg"


class FacePass:
    """Scans every indexed photo that has no face status for its current content."""

    def __init__(self, settings: Settings, library: Library, finder: FaceFinder) -> None:
        self.settings = settings
        self.library = library
        self.finder = finder

    def run(
        self, progress: Progress | None = None, stop_event: threading.Event | None = None,
        limit: int | None = None,
    ) -> FaceReport:  # fmt: skip
        if not self.library.faces_enabled():
            raise FacesDisabledError("People is off: an admin turns it on first (faces_enabled)")
        progress = progress or Progress()
        todo = self.library.photos_needing_faces(limit)
        progress.start()
        progress.set_total(len(todo))
        report, start = FaceReport(), time.perf_counter()
        for n, item in enumerate(todo, start=1):
            if stop_event is not None and stop_event.is_set():
                report.stopped = True
                break
            self._one(item, n, report, progress)
        if not report.stopped:
            report.new_people = group_leftovers(
                self.library, self.settings.faces_threshold, self.settings.faces_min_quality
            )
        report.seconds = time.perf_counter() - start
        progress.finish("stopped" if report.stopped else "done")
        return report

    def _one(self, item: PendingPhoto, n: int, report: FaceReport, progress: Progress) -> None:
        t0 = time.perf_counter()
        try:
            rgb = self.load(item)
            found = self.finder.analyse(rgb)
        except (ImageDecodeError, EngineError) as exc:
            self._fail(item, str(exc), report, progress)
            return
        rows = self._rows(item.photo_id, found, rgb.shape, report)
        failpoint("faces-mid-photo", n)  # crops written, not committed
        self.library.record_faces(
            item.photo_id, item.sha256, "done" if rows else "no_faces", rows,
            seconds=time.perf_counter() - t0,
        )  # fmt: skip
        failpoint("faces-after-commit", n)
        report.done += bool(rows)
        report.no_faces += not rows
        report.faces += len(rows)
        report.assigned += sum(r.person_id is not None for r in rows)
        progress.advance(1, current=item.rel_path)

    def load(self, item: PendingPhoto) -> np.ndarray:
        """Upright RGB at most ``faces_det_side`` long (JPEG draft decode: cheap)."""
        s = self.settings
        return load_for_ocr(s.library_dir / item.rel_path, s.faces_det_side, s.max_image_pixels)

    def _rows(
        self, photo_id: int, found: list[FoundFace], shape: tuple[int, ...], report: FaceReport
    ) -> list[FaceRow]:
        s = self.settings
        forgotten = self.library.forgotten_centroids()
        centroids = Centroids.of(self.library)
        h, w = shape[:2]
        rows: list[FaceRow] = []
        for face in found:
            if is_forgotten(face.embedding, forgotten, s.faces_threshold):
                report.dropped_forgotten += 1
                continue
            quality = face_quality(face)
            pid = (
                centroids.nearest(face.embedding, s.faces_threshold)
                if quality >= s.faces_min_quality
                else None
            )
            box = (face.box[0] / w, face.box[1] / h, face.box[2] / w, face.box[3] / h)
            crop = self._write_crop(photo_id, len(rows), face.chip)
            rows.append(FaceRow(tuple(round(v, 5) for v in box), round(face.score, 4), quality,  # type: ignore[arg-type]
                                face.embedding, pid, crop))  # fmt: skip
        return rows

    def _write_crop(self, photo_id: int, face_no: int, chip: np.ndarray) -> str:
        rel = crop_name(photo_id, face_no)
        path = self.settings.thumbs_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        Image.fromarray(chip).save(tmp, "JPEG", quality=85)
        tmp.replace(path)
        return rel

    def _fail(
        self, item: PendingPhoto, reason: str, report: FaceReport, progress: Progress
    ) -> None:
        log.warning("face scan of %s failed: %s", item.rel_path, reason)
        self.library.record_faces(item.photo_id, item.sha256, "failed", reason=reason)
        report.failed += 1
        report.failures.append((item.rel_path, reason))
        progress.error(item.rel_path, reason)
        progress.advance(1, current=item.rel_path)


def remove_crops(thumbs_dir: Path, crops: list[str]) -> int:
    """Delete stored face crops (after forget); returns how many were inside faces/."""
    home = (thumbs_dir / CROPS_DIR).resolve()
    removed = 0
    for rel in crops:
        path = (thumbs_dir / rel).resolve()
        if path.is_relative_to(home):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def forget_person(settings: Settings, library: Library, person_id: int) -> int:
    """Delete a person's faces and crops; their template keeps them from coming back."""
    return remove_crops(settings.thumbs_dir, library.forget_person(person_id))


def set_faces_enabled(
    settings: Settings, library: Library, enabled: bool, guests: bool | None = None
) -> None:
    """Turn People on, or off: every face, descriptor, person and crop is deleted."""
    library.set_faces_enabled(enabled, guests=guests)
    if not enabled:
        shutil.rmtree(settings.thumbs_dir / CROPS_DIR, ignore_errors=True)


def run_faces(
    settings: Settings, library: Library, progress: Progress | None = None,
    stop_event: threading.Event | None = None, limit: int | None = None,
) -> FaceReport:  # fmt: skip
    """Open the face models and run the pass (raises `FaceModelError` / `FacesDisabledError`)."""
    from engines.faces.engine import open_faces

    if not library.faces_enabled():
        raise FacesDisabledError("People is off: an admin turns it on first (faces_enabled)")
    with open_faces(
        settings.faces_models, settings.faces_detector, settings.faces_det_side
    ) as engine:
        return FacePass(settings, library, engine).run(progress, stop_event, limit)
