"""Recognised text (OCR) in the web UI and API: the photo's lines and the library's counts.

Read-only routes on the reader connection; they work the same whether or not the
bundle has OCR models (a photo not read yet says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify

from edge_app.context import AppContext
from webui.state import web_state

bp = Blueprint("ocr", __name__)


@dataclass(frozen=True)
class TextLine:
    """One line as the photo page shows it; `points` is an SVG polygon in 0..1 units."""

    index: int
    text: str
    score: float
    box: tuple[tuple[float, float], ...]

    @property
    def points(self) -> str:
        return " ".join(f"{x:.5f},{y:.5f}" for x, y in self.box)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "score": self.score, "box": [list(p) for p in self.box]}


@dataclass(frozen=True)
class PhotoText:
    """A photo's OCR state: done | no_text | failed | pending, its lines and reason."""

    state: str
    lines: tuple[TextLine, ...] = ()
    reason: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reason": self.reason,
            "text": self.text,
            "lines": [line.to_json() for line in self.lines],
        }


def photo_text(ctx: AppContext, photo_id: int) -> PhotoText:
    """The photo's recognised text; `NotFoundError` (-> 404) for an unknown id."""
    photo = ctx.reader.get_photo(photo_id)
    status = ctx.reader.ocr_status(photo_id)
    if status is None or status.sha256 != photo.sha256:
        return PhotoText("pending")
    lines = tuple(
        TextLine(i, ln.text, ln.score, ln.box)
        for i, ln in enumerate(ctx.reader.ocr_lines(photo_id))
    )
    return PhotoText(status.state, lines, status.reason)


@bp.get("/api/photos/<int:photo_id>/text")
def photo_text_json(photo_id: int) -> Response:
    """The photo's recognised lines with confidences and boxes (fractions of the photo)."""
    return jsonify(photo_text(web_state().context, photo_id).to_json())


@bp.get("/api/ocr/status")
def ocr_status_json() -> Response:
    """OCR progress of the library: done / no_text / failed / pending counts, failures."""
    reader = web_state().context.reader
    failures = [{"path": p, "reason": r} for p, r in reader.ocr_failures()]
    return jsonify(counts=reader.ocr_counts(), failures=failures)
