"""The OpenAPI description against the real app: it is valid OpenAPI 3.1, it lists exactly
the routes of the Flask URL map under /api/ (and their methods and admin guard), and every
example in it validates against its own schema."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from flask import Flask
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from webui.api_spec import SPEC_DIR, SpecError, merge_fragments, openapi_spec

IGNORED_METHODS = {"HEAD", "OPTIONS"}
OPERATIONS = {"get", "post", "put", "patch", "delete"}
_CONVERTER = re.compile(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>")
SPEC_URI = "urn:edge-photo-search:openapi"


def flask_operations(app: Flask) -> dict[tuple[str, str], Any]:
    """(OpenAPI path, method) -> view function, for every /api/ rule of the URL map."""
    found = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        for method in (rule.methods or set()) - IGNORED_METHODS:
            found[(path, method.lower())] = app.view_functions[rule.endpoint]
    return found


def spec_operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in OPERATIONS
    }


def _pointer(parts: tuple[str, ...]) -> str:
    return "/" + "/".join(quote(p.replace("~", "~0").replace("/", "~1"), safe="") for p in parts)


def examples(node: Any, parts: tuple[str, ...] = ()) -> Iterator[tuple[str, str, Any]]:
    """(where, JSON pointer of the schema, example) for media-type and schema examples."""
    if not isinstance(node, dict):
        return
    is_schema = len(parts) == 3 and parts[:2] == ("components", "schemas")
    if "example" in node and ("schema" in node or is_schema):
        schema_at = (*parts, "schema") if "schema" in node else parts
        yield "/".join(parts), _pointer(schema_at), node["example"]
    if is_schema:
        for i, example in enumerate(node.get("examples", [])):
            yield f"{'/'.join(parts)}[{i}]", _pointer(parts), example
    for key, value in node.items():
        yield from examples(value, (*parts, str(key)))


def example_errors(spec: dict[str, Any]) -> list[str]:
    """Every example that does not validate against its schema (JSON Schema 2020-12)."""
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))
    errors = []
    for where, pointer, example in examples(spec):
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"{SPEC_URI}#{pointer}"}, registry=registry
        )
        errors += [f"{where}: {e.message}" for e in validator.iter_errors(example)]
    return errors


@pytest.fixture()
def spec() -> dict[str, Any]:
    return openapi_spec()


def test_the_description_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    validate(spec)  # raises on any violation of the 3.1 meta-schema


def test_an_invalid_description_is_refused(spec: dict[str, Any]) -> None:
    spec["paths"]["/api/search"]["get"]["responses"] = "nothing"
    with pytest.raises(OpenAPIValidationError):
        validate(spec)


def test_spec_and_url_map_list_the_same_routes(web_app: Flask, spec: dict[str, Any]) -> None:
    in_app = set(flask_operations(web_app))
    in_spec = set(spec_operations(spec))
    assert in_app - in_spec == set(), "routes missing from webui/openapi/*.yaml"
    assert in_spec - in_app == set(), "documented routes the app does not have"
    assert len(in_app) >= 16


def test_admin_only_routes_are_marked_in_the_spec(web_app: Flask, spec: dict[str, Any]) -> None:
    views = flask_operations(web_app)
    for key, op in spec_operations(spec).items():
        guarded = bool(getattr(views[key], "_edge_admin_only", False))
        assert bool(op.get("x-admin-only")) == guarded, key


def test_every_json_success_response_has_an_example(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for key, op in spec_operations(spec).items():
        for status, response in op["responses"].items():
            if not status.startswith("2") or "$ref" in response:
                continue
            media = response.get("content", {}).get("application/json")
            if media is None:
                continue
            ref = media["schema"].get("$ref", "")
            has = "example" in media or "example" in schemas.get(ref.rsplit("/", 1)[-1], {})
            assert has, f"{key} {status}: add an example"


def test_every_example_validates_against_its_schema(spec: dict[str, Any]) -> None:
    assert len(list(examples(spec))) >= 15
    assert example_errors(spec) == []


def test_a_wrong_example_is_reported(spec: dict[str, Any]) -> None:
    media = spec["paths"]["/api/session"]["get"]["responses"]["200"]["content"]
    media["application/json"]["example"] = {"role": "emperor", "password_set": True}
    errors = example_errors(spec)
    assert any("session" in e and "emperor" in e for e in errors), errors
    assert any("csrf_token" in e for e in errors), errors


def test_served_anonymously_at_api_openapi_json(web_app: Flask, spec: dict[str, Any]) -> None:
    response = web_app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == spec


def test_a_path_defined_in_two_fragments_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text((SPEC_DIR / "base.yaml").read_text())
    twice = "paths:\n  /api/x:\n    get: {responses: {'200': {description: ok}}}\n"
    (tmp_path / "a.yaml").write_text(twice)
    (tmp_path / "b.yaml").write_text(twice)
    with pytest.raises(SpecError, match="/api/x"):
        merge_fragments(tmp_path)


def test_a_fragment_may_only_add_paths_and_components(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text((SPEC_DIR / "base.yaml").read_text())
    (tmp_path / "a.yaml").write_text("info: {title: mine}\n")
    with pytest.raises(SpecError, match="only paths and components"):
        merge_fragments(tmp_path)
