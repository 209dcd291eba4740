"""Near-duplicate groups for the API and the trash page (`edge_app.search.duplicates`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_app.context import AppContext
from edge_app.errors import QueryError
from edge_app.settings import Settings


@dataclass(frozen=True)
class Group:
    """One group of (near-)duplicates: photo ids and their lowest pairwise similarity."""

    ids: list[int]
    score: float | None

    def to_json(self) -> dict[str, Any]:
        return {"ids": self.ids, "score": self.score}


def parse_threshold(raw: str | None, settings: Settings) -> float:
    """``?threshold=`` in (0, 1], default from the settings."""
    if raw is None or not raw.strip():
        return float(settings.duplicate_threshold)
    try:
        value = float(raw)
    except ValueError as exc:
        raise QueryError(f"threshold must be a number in (0, 1], got {raw!r}") from exc
    if not 0.0 < value <= 1.0:
        raise QueryError(f"threshold must be in (0, 1], got {value}")
    return value


def duplicate_groups(ctx: AppContext, threshold: float) -> list[Group]:
    """Groups of photos at least `threshold` similar (edge_app.search.duplicates)."""
    groups = ctx.search.duplicates(threshold=threshold)
    return [Group(ids=[int(i) for i in g.ids], score=getattr(g, "min_score", None)) for g in groups]
