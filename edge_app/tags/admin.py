"""Creating, editing and deleting label sets: what the CLI, web form and JSON API call.

Why one module: all three front ends must validate the same way (`edge_app.tags.labels`)
and store through the library in one transaction, so a bad definition stores nothing.
Re-tagging is not done here: callers queue the daemon's ``tags`` job (or, in the CLI,
run `Tagger.retag`) so the library keeps one writer thread for bulk writes.
"""

from __future__ import annotations

from typing import Any

from edge_app.errors import NotFoundError
from edge_app.library.store import Library
from edge_app.library.tags import LabelSet
from edge_app.tags.builtin import load_builtin
from edge_app.tags.labels import check_set_name, parse_labels


def create_set(library: Library, name: Any, labels: Any, description: Any = "") -> LabelSet:
    """Validate and store a new set (raises `LabelError`/`LabelConflictError`)."""
    return library.create_label_set(
        check_set_name(name), parse_labels(labels), description=_description(description)
    )


def update_set(library: Library, set_id: int, labels: Any, description: Any = None) -> LabelSet:
    """Replace a set's labels (same-name labels keep their tags until re-tagged)."""
    text = None if description is None else _description(description)
    return library.replace_labels(set_id, parse_labels(labels), description=text)


def resolve_set(library: Library, ident: str | int) -> LabelSet:
    """A set by id or by name (case-insensitive)."""
    if isinstance(ident, int) or str(ident).isdigit():
        return library.get_label_set(int(ident))
    found = library.find_label_set(str(ident))
    if found is None:
        names = ", ".join(s.name for s in library.list_label_sets()) or "none yet"
        raise NotFoundError(f"no label set named {ident!r} (sets: {names})")
    return found


def install_builtin(library: Library, name: str) -> LabelSet:
    """Store a built-in set once (an existing set of that name is kept as it is)."""
    existing = library.find_label_set(name)
    if existing is not None:
        return existing
    description, labels = load_builtin(name)
    return library.create_label_set(name, labels, description=description, builtin=name)


def builtin_names(setting: str) -> list[str]:
    """``Settings.tag_builtin_sets`` ("everyday" or "") as a list."""
    return [n.strip() for n in setting.split(",") if n.strip()]


def _description(raw: Any) -> str:
    text = "" if raw is None else str(raw)
    return " ".join(text.split())[:500]
