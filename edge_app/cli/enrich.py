"""Enrichment for the CLI: `--no-ocr` / `--no-tags` / `--no-faces`, the passes with a progress bar, and
what they did told in sentences (shared by ``index``, ``import``, ``ocr`` and ``status``)."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from edge_app.enrich.passes import EnrichChoice, EnrichReport

if TYPE_CHECKING:
    from edge_app.context import AppContext
    from edge_app.enrich.face_pass import FaceReport
    from edge_app.enrich.ocr_pass import OcrReport
    from edge_app.tags.tagger import TagRun


def enrich_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-ocr", action="store_true", help="do not read the text in the photos")
    p.add_argument("--no-tags", action="store_true", help="do not tag the photos")
    p.add_argument(
        "--no-faces", action="store_true", help="do not look for faces (when People is on)"
    )


def choice_from_args(args: argparse.Namespace) -> EnrichChoice:
    return EnrichChoice(ocr=not args.no_ocr, tags=not args.no_tags, faces=not args.no_faces)


def run_enrich(
    ctx: AppContext, choice: EnrichChoice, stop: threading.Event, quiet: bool
) -> EnrichReport:
    """The tag and OCR passes on `ctx`, with a "reading text" bar on a terminal."""
    from edge_app.enrich.passes import enrich
    from edge_app.indexing.progress import Progress, TqdmBar

    with TqdmBar("reading text", disable=quiet or not sys.stderr.isatty()) as bar:
        progress = Progress()
        progress.add_listener(bar)
        return enrich(ctx, choice, stop=stop, ocr_progress=progress)


def enrich_sentences(report: EnrichReport, ocr_counts: Mapping[str, int] | None) -> list[str]:
    """What the passes did, then where the library stands."""
    lines = tag_sentences(report.tags)
    if report.ocr is not None:
        lines += ocr_run_sentences(report.ocr)
    if report.faces is not None:
        lines += face_run_sentences(report.faces)
    lines += [_capital(reason) + "." for reason in report.skipped]
    if ocr_counts is not None and (report.ocr is not None or ocr_counts.get("pending")):
        lines.append(ocr_library_sentence(ocr_counts))
    return lines


def tag_sentences(runs: Sequence[TagRun]) -> list[str]:
    if not runs:
        return ["Tags were already up to date."]
    return [
        f"Tagged {r.photos} {_photos(r.photos)} with the label set {r.set_name!r}: "
        f"{r.tags} tags in {r.seconds:.1f} s." if r.state == "done"
        else f"Label set {r.set_name!r} was {r.state}{': ' + r.message if r.message else ''}."
        for r in runs
    ]  # fmt: skip


def ocr_run_sentences(report: OcrReport) -> list[str]:
    read = report.done + report.no_text
    head = (
        f"Read the text in {read} {_photos(read)} in {report.seconds:.1f} s: "
        f"{report.done} with text, {report.no_text} without."
    )
    return _pass_sentences(
        head, report, "could not be read", "the next run reads the rest (nothing is lost)"
    )


def face_run_sentences(report: FaceReport) -> list[str]:
    scanned = report.done + report.no_faces
    head = (
        f"Looked for faces in {scanned} {_photos(scanned)} in {report.seconds:.1f} s: "
        f"{report.faces} faces in {report.done}, {report.new_people} new people."
    )
    return _pass_sentences(
        head, report, "could not be scanned for faces", "the next run finds the rest of the faces"
    )


def _pass_sentences(
    head: str, report: OcrReport | FaceReport, failed_as: str, resume: str
) -> list[str]:
    """An enrichment pass's summary, then its failures and whether it stopped early."""
    lines = [head]
    if report.failed:
        lines.append(f"{report.failed} {_photos(report.failed)} {failed_as}:")
        lines += [f"  {path}: {reason}" for path, reason in report.failures]
    if report.stopped:
        lines.append(f"Stopped early; {resume}.")
    return lines


def ocr_library_sentence(counts: Mapping[str, int]) -> str:
    """One sentence for the library's OCR counts (done / no_text / failed / pending)."""
    read = counts.get("done", 0) + counts.get("no_text", 0)
    text = (
        f"Text in the library: {read} {_photos(read)} read ({counts.get('done', 0)} with text), "
        f"{counts.get('pending', 0)} waiting"
    )
    if counts.get("failed"):
        text += f", {counts['failed']} could not be read"
    return text + "."


def _photos(n: int) -> str:
    return "photo" if n == 1 else "photos"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
