"""Optional OCR on the bundle's own engines: `open_ocr(bundle_dir) -> OcrEngine`.

The OCR files are verified here, not in `engines.open`: a damaged OCR model must stop
OCR with a clear `OcrUnavailableError`, never semantic search.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from engines.errors import BundleError, OcrUnavailableError

if TYPE_CHECKING:
    from engines.base import TowerRunner
    from engines.bundle import Bundle
    from engines.manifest import OcrSpec
    from engines.ocr.engine import OcrEngine

__all__ = ["OCR_TOWERS", "OcrUnavailableError", "open_ocr", "verify_ocr_files"]

log = logging.getLogger(__name__)

OCR_TOWERS = ("ocr_det", "ocr_cls", "ocr_rec")


def ocr_spec(bundle: Bundle) -> OcrSpec:
    """The manifest's OCR section, or a clear error saying how to add one."""
    spec = bundle.manifest.ocr
    if spec is None:
        raise OcrUnavailableError(
            f"bundle {bundle.dir} has no OCR models: rebuild it with "
            f"`edge-build export --ocr ...` or add them with `edge-build add-ocr {bundle.dir}`"
        )
    return spec


def verify_ocr_files(bundle: Bundle) -> None:
    """Size + sha256 of every OCR file; `OcrUnavailableError` names the bad one."""
    from engines.bundle import verify_entry

    for entry in ocr_spec(bundle).files:
        try:
            verify_entry(bundle, entry, "OCR file")
        except BundleError as exc:
            raise OcrUnavailableError(
                f"{exc} (OCR is off until it is fixed: `edge-build add-ocr {bundle.dir}`)"
            ) from exc


def open_ocr(
    bundle_dir: Path,
    prefer: str | None = None,
    device: str | None = None,
    cache_dir: Path | None = None,
    det_max_side: int | None = None,
) -> OcrEngine:
    """Verify the OCR files and load det, cls and rec with the best runnable backend.

    `det_max_side` bounds the detector's input (default: the size the bundle's builder
    chose for its model family by measurement, `OcrSpec.det_side`).
    """
    from engines.bundle import load_bundle
    from engines.ocr.detect import DetParams
    from engines.ocr.engine import OcrEngine
    from engines.ocr.recognize import load_dictionary

    bundle = load_bundle(Path(bundle_dir), verify=False)
    spec = ocr_spec(bundle)
    verify_ocr_files(bundle)
    runners = _load_runners(bundle, spec, prefer, device, cache_dir)
    classes = load_dictionary(bundle.path(spec.dictionary).read_text(encoding="utf-8"))
    engine = OcrEngine(
        runners["ocr_det"], runners["ocr_rec"], classes, runners.get("ocr_cls"),
        cls_shape=spec.cls_shape,
        params=DetParams(max_side=det_max_side or spec.det_side),
    )  # fmt: skip
    log.info("OCR engine: %s", engine.describe())
    return engine


def _load_runners(
    bundle: Bundle, spec: OcrSpec, prefer: str | None, device: str | None, cache_dir: Path | None
) -> dict[str, TowerRunner]:
    from engines import registry

    pref = registry.Preference.parse(prefer)
    as_manifest = replace(bundle.manifest, artifacts=spec.artifacts)  # reuse the ranking
    skipped: dict[str, str] = {}
    runners: dict[str, TowerRunner] = {}
    for tower in OCR_TOWERS:
        ranked = registry.candidates(as_manifest, tower, pref, device, cache_dir, skipped)
        runner = registry.load_first(bundle.dir, ranked, skipped)
        if runner is None and tower != "ocr_cls":
            for r in runners.values():
                r.close()
            listing = "\n".join(f"  {k}: {v}" for k, v in skipped.items()) or "  (none listed)"
            raise OcrUnavailableError(
                f"no runnable {tower} artifact in {bundle.dir} (prefer={prefer!r}):\n{listing}"
            )
        if runner is not None:
            runners[tower] = runner
    return runners
