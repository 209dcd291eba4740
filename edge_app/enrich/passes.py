"""Enrichment after indexing (tags, then text, then faces), the same for the CLI and the daemon.

Why one place: `edge-app index` and `edge-app import` must leave a library exactly as the
daemon would (photos tagged, read and, when People is on, their faces found, no further
command), and the daemon must finish whatever a CLI run left pending. Tags come first: they
cost milliseconds per photo over the stored embeddings; OCR costs about a second per photo
with text; faces a tenth of a second per photo. Each pass is resumable on its own (tags:
stale sets are re-tagged; OCR and faces: photos without a status). People is opt-in: while
it is off the face pass is not mentioned at all.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge_app.context import AppContext
    from edge_app.enrich.face_pass import FaceReport
    from edge_app.enrich.ocr_pass import OcrReport
    from edge_app.indexing.progress import Progress
    from edge_app.library.store import Library
    from edge_app.settings import Settings
    from edge_app.tags.tagger import TagRun


@dataclass(frozen=True)
class EnrichChoice:
    """Which passes to run (`--no-ocr` / `--no-tags` / `--no-faces` turn one off)."""

    ocr: bool = True
    tags: bool = True
    faces: bool = True


@dataclass
class EnrichReport:
    """What the passes did; `skipped` says why a pass did not run."""

    tags: list[TagRun] = field(default_factory=list)
    ocr: OcrReport | None = None
    faces: FaceReport | None = None
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tags": [asdict(run) for run in self.tags],
            "ocr": None if self.ocr is None else self.ocr.to_dict(),
            "faces": None if self.faces is None else self.faces.to_dict(),
            "skipped": list(self.skipped),
        }


def ocr_skip_reason(settings: Settings) -> str | None:
    """Why OCR cannot run with these settings and bundle, or None when it can."""
    from engines.errors import BundleError
    from engines.manifest import Manifest

    if not settings.ocr_enabled:
        return "OCR is off (ocr_enabled = false)"
    try:
        has_ocr = Manifest.load(settings.bundle_dir).ocr is not None
    except BundleError as exc:
        return str(exc)
    if not has_ocr:
        return "the bundle has no OCR models (`edge-build add-ocr BUNDLE` adds them)"
    return None


def tag_progress(library: Library, bundle_id: str | None, builtin_sets: str) -> dict[str, int]:
    """Tag totals plus ``waiting_sets``: label sets (and configured built-in sets not
    installed yet) that the next tagging pass will tag. Loads no model."""
    from edge_app.tags.admin import builtin_names
    from edge_app.tags.tagger import is_fresh

    generation = library.index_generation()
    sets = library.list_label_sets()
    stale = [s for s in sets if s.label_count and not is_fresh(s, generation, bundle_id)]
    names = {s.name for s in sets}
    missing = [n for n in builtin_names(builtin_sets) if n not in names]
    return {**library.tag_totals(), "waiting_sets": len(stale) + len(missing)}


def ocr_pending(library: Library) -> bool:
    """Whether any indexed photo waits to be read (cheap: one indexed row at most)."""
    return bool(library.photos_needing_ocr(limit=1))


def enrich(
    ctx: AppContext,
    choice: EnrichChoice | None = None,
    *,
    stop: threading.Event | None = None,
    ocr_progress: Progress | None = None,
) -> EnrichReport:
    """Tag stale label sets, read the text of photos not read yet, then find their faces
    (each as enabled)."""
    from edge_app.enrich.ocr_pass import run_ocr
    from edge_app.tags.jobs import tag_library
    from engines.errors import OcrUnavailableError

    choice = choice or EnrichChoice()
    report = EnrichReport()
    if choice.tags:
        report.tags = tag_library(ctx, stop)
    else:
        report.skipped.append("tagging skipped (--no-tags)")
    reason = "reading text skipped (--no-ocr)" if not choice.ocr else ocr_skip_reason(ctx.settings)
    if stop is not None and stop.is_set():
        reason = "stopped before reading text"
    if reason is not None:
        report.skipped.append(reason)
    elif ocr_pending(ctx.library):
        try:
            report.ocr = run_ocr(ctx.settings, ctx.library, ocr_progress, stop)
        except OcrUnavailableError as exc:  # the photos stay indexed and searchable
            report.skipped.append(f"no text read: {exc}")
    if ctx.library.faces_enabled():
        report.faces = find_faces(ctx, choice, report.skipped, stop)
    return report


def find_faces(
    ctx: AppContext, choice: EnrichChoice, skipped: list[str], stop: threading.Event | None
) -> FaceReport | None:
    """The face pass when photos wait for it; why not, in ``skipped`` (People is on)."""
    from edge_app.enrich.face_pass import run_faces
    from engines.errors import FaceModelError

    if not choice.faces:
        skipped.append("finding faces skipped (--no-faces)")
    elif stop is not None and stop.is_set():
        skipped.append("stopped before finding faces")
    elif ctx.library.photos_needing_faces(limit=1):
        try:
            return run_faces(ctx.settings, ctx.library, stop_event=stop)
        except FaceModelError as exc:  # a damaged face model stops People only
            skipped.append(f"no faces found: {exc}")
    return None
