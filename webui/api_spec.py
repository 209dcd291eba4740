"""The OpenAPI 3.1 description of the JSON API, served at ``GET /api/openapi.json``.

Hand-written YAML, one fragment per feature in ``webui/openapi/`` (``base.yaml`` holds
info, security and shared components), merged here at load time. Why fragments: each
route is documented next to its peers in a small file, so adding a route is one local
edit, and branches adding different routes do not collide in one big file. A path or
component defined twice is an error, not a silent override. `tests/webui/test_openapi.py`
checks the result against the Flask URL map and the 3.1 meta-schema.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

SPEC_DIR = Path(__file__).with_name("openapi")
BASE = "base.yaml"

bp = Blueprint("api_spec", __name__)


class SpecError(ValueError):
    """The fragments do not merge into one description (a duplicate or a bad file)."""


def _read(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise SpecError(f"{path.name}: an OpenAPI fragment must be a mapping")
    return data


def _merge_into(target: dict[str, Any], extra: dict[str, Any], where: str) -> None:
    """Add `extra`'s keys to `target`; a key already there is a conflict between files."""
    for key, value in extra.items():
        if key in target:
            raise SpecError(f"{where}: {key!r} is defined in two fragments")
        target[key] = value


def merge_fragments(spec_dir: Path = SPEC_DIR) -> dict[str, Any]:
    """``base.yaml`` plus every other ``*.yaml``'s ``paths`` and ``components``."""
    spec = _read(spec_dir / BASE)
    spec.setdefault("paths", {})
    components = spec.setdefault("components", {})
    for path in sorted(spec_dir.glob("*.yaml")):
        if path.name == BASE:
            continue
        fragment = _read(path)
        unknown = set(fragment) - {"paths", "components"}
        if unknown:
            raise SpecError(f"{path.name}: only paths and components belong in a fragment")
        _merge_into(spec["paths"], fragment.get("paths") or {}, f"{path.name} paths")
        for section, entries in (fragment.get("components") or {}).items():
            _merge_into(components.setdefault(section, {}), entries, f"{path.name} {section}")
    return spec


@functools.cache
def _cached() -> dict[str, Any]:
    spec = merge_fragments()
    # A source tree that was never installed keeps base.yaml's placeholder version.
    with contextlib.suppress(metadata.PackageNotFoundError):
        spec["info"]["version"] = metadata.version("edge-photo-search")
    return spec


def openapi_spec() -> dict[str, Any]:
    """The merged description (a copy: callers may change it)."""
    return copy.deepcopy(_cached())


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    """Public: the description documents routes, it exposes no data."""
    return jsonify(_cached())
