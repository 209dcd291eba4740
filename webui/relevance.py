"""Relevance instead of raw cosine scores: which hits are close matches, and is any?

The rule (documented in docs/API.md, "Relevance"): for a query, take the scores of its
top ``WINDOW`` hits (all hits in a smaller library) and its *gap* = best score - median
score of that window. Gibberish gives a flat window, a real match a best score well above
the bulk. The gap is compared with a per-bundle-and-library *null gap*: the median gap of
``PROBES`` (fixed random-letter strings) run the same way, computed once per bundle and
index size and cached. Then:

* gap <= null gap: "no close matches"; every hit is folded behind "show weaker matches";
* else close matches are the hits scoring at least ``median + max(null, gap / 2)``.

Raw cosine values mean different things for different models (a toy model scores 0.7 on
nonsense, ViT-B/32 rarely passes 0.35), which is why the cut-off is relative.
"""

from __future__ import annotations

import random
import statistics
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WINDOW = 200
_rng = random.Random(20240611)
PROBES = tuple(
    "".join(_rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(_rng.randint(5, 10)))
    for _ in range(12)
)

_cache: dict[tuple[str, int], float] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Split:
    """How many of the ranked hits are close matches (they come first)."""

    strong: int
    no_close: bool
    cutoff: float | None


def gap(scores: Sequence[float]) -> float:
    """Best score minus the median of the window (0 for no hits)."""
    if not scores:
        return 0.0
    window = list(scores[:WINDOW])
    return max(window) - statistics.median(window)


def null_gap(key: tuple[str, int], probe_scores: Callable[[str], Sequence[float]]) -> float:
    """Median gap of the gibberish probes for (bundle id, index size); cached."""
    with _lock:
        if key in _cache:
            return _cache[key]
    value = statistics.median(gap(probe_scores(p)) for p in PROBES)
    with _lock:
        _cache[key] = value
    return value


def split(scores: Sequence[float], null: float) -> Split:
    """Close matches among scores sorted best first (see the module docstring)."""
    g = gap(scores)
    if not scores or g <= null:
        return Split(strong=0, no_close=True, cutoff=None)
    cutoff = statistics.median(list(scores[:WINDOW])) + max(null, g / 2)
    strong = sum(1 for s in scores if s >= cutoff)
    return Split(strong=max(strong, 1), no_close=False, cutoff=cutoff)
