"""Checking label definitions before anything is stored.

Why here and not in SQL: a user typing a label set in the web UI or posting JSON should
get one message naming the bad label ("label 3 has an empty name"), and a bad set must
store nothing, so the whole definition is validated before the one write transaction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from edge_app.errors import LabelError
from edge_app.library.tags import LabelDef

MAX_LABELS = 1000  # per set; measured in docs/benchmarks/tags.md
MAX_NAME = 64
MAX_PROMPTS = 32
MAX_PROMPT_CHARS = 200
MAX_EXAMPLES = 64
MAX_THRESHOLD = 50.0
POOLINGS = ("mean", "any")


def check_set_name(name: Any) -> str:
    """A set name: non-empty text, at most MAX_NAME characters, no '/'."""
    if not isinstance(name, str) or not name.strip():
        raise LabelError("the label set needs a name, e.g. 'defects'")
    clean = " ".join(name.split())
    if len(clean) > MAX_NAME or "/" in clean:
        raise LabelError(f"set name {clean[:80]!r} must be at most {MAX_NAME} characters, no '/'")
    return clean


def parse_labels(raw: Any) -> list[LabelDef]:
    """A JSON list of labels: strings, or objects {name, prompts?, threshold?, examples?}."""
    if not isinstance(raw, list) or not raw:
        raise LabelError('labels must be a non-empty list, e.g. ["scratch", "dent"]')
    if len(raw) > MAX_LABELS:
        raise LabelError(
            f"{len(raw)} labels is more than the {MAX_LABELS} a set may hold: split them "
            "into several sets"
        )
    labels = [_parse_label(item, i) for i, item in enumerate(raw, start=1)]
    seen: dict[str, int] = {}
    for i, label in enumerate(labels, start=1):
        key = label.name.casefold()
        if key in seen:
            raise LabelError(
                f"labels {seen[key]} and {i} are both named {label.name!r}: names must be "
                "unique within a set (case does not count)"
            )
        seen[key] = i
    return labels


def _parse_label(item: Any, index: int) -> LabelDef:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        raise LabelError(f"label {index} must be a name or an object with a 'name'")
    unknown = set(item) - {"name", "prompts", "threshold", "examples", "pooling"}
    if unknown:
        raise LabelError(f"label {index} has unknown fields {sorted(unknown)}")
    return LabelDef(
        name=check_label_name(item.get("name"), index),
        prompts=_prompts(item.get("prompts") or [], index),
        threshold=_threshold(item.get("threshold"), index),
        examples=_examples(item.get("examples") or [], index),
        pooling=_pooling(item.get("pooling") or "mean", index),
    )


def _pooling(raw: Any, index: int) -> str:
    if raw not in POOLINGS:
        raise LabelError(f"label {index}: pooling must be one of {POOLINGS}, got {raw!r}")
    return str(raw)


def check_label_name(name: Any, index: int = 1) -> str:
    if not isinstance(name, str) or not name.strip():
        raise LabelError(f"label {index} has an empty name: every label needs one, e.g. 'dent'")
    clean = " ".join(name.split())
    if len(clean) > MAX_NAME or '"' in clean:
        raise LabelError(
            f"label {index} name {clean[:80]!r} must be at most {MAX_NAME} characters, no quotes"
        )
    return clean


def _prompts(raw: Any, index: int) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise LabelError(f"label {index}: prompts must be a list of texts")
    prompts = tuple(" ".join(p.split()) for p in raw if p.strip())
    if len(prompts) > MAX_PROMPTS or any(len(p) > MAX_PROMPT_CHARS for p in prompts):
        raise LabelError(
            f"label {index}: at most {MAX_PROMPTS} prompts of {MAX_PROMPT_CHARS} characters"
        )
    return prompts


def _threshold(raw: Any, index: int) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise LabelError(f"label {index}: threshold must be a number, got {raw!r}") from exc
    if not math.isfinite(value) or not -MAX_THRESHOLD <= value <= MAX_THRESHOLD:
        raise LabelError(f"label {index}: threshold must be within ±{MAX_THRESHOLD:g}")
    return value


def _examples(raw: Any, index: int) -> tuple[int, ...]:
    ok = isinstance(raw, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in raw)
    if not ok:
        raise LabelError(f"label {index}: examples must be a list of photo ids")
    if len(raw) > MAX_EXAMPLES:
        raise LabelError(f"label {index}: at most {MAX_EXAMPLES} example photos")
    return tuple(dict.fromkeys(raw))


def labels_from_lines(lines: Sequence[str]) -> list[LabelDef]:
    """The web form / CLI text format: one label per line, ``name: prompt; prompt``."""
    items: list[dict[str, Any]] = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, prompts = line.partition(":")
        items.append({"name": name, "prompts": [p for p in prompts.split(";") if p.strip()]})
    return parse_labels(items)
