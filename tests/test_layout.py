"""The tree explains the system: no import cycles, every module imports alone, docs match."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("engines", "build_engines", "edge_app", "webui", "edge_bench")
#: Modules that need what the appliance may lack (TensorRT, pycuda): imported by their own tests.
NEEDS_HARDWARE = {
    "engines.tensorrt_backend",
    "engines.cuda_memory",
    "build_engines.convert_tensorrt",
}


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((REPO / package).rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


ALL = {name: path for pkg in PACKAGES for name, path in _modules(pkg).items()}


def _imports(name: str, path: Path) -> set[str]:
    """First-party modules imported anywhere in the file: module level, under `if
    TYPE_CHECKING:` and inside functions (a deferred import still ties the two modules)."""
    return _imports_in(
        ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py"
    )


def _imports_in(tree: ast.AST, name: str, is_pkg: bool) -> set[str]:
    base = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                mod = ".".join(
                    base.split(".")[: len(base.split(".")) - node.level + 1] + [mod]
                ).strip(".")
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return {m for m in out if m in ALL and m != name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles_between_modules() -> None:
    # A package importing its own submodules (`__init__` -> child) is not a cycle between modules.
    graph = {
        name: {m for m in _imports(name, path) if not m.startswith(name + ".")}
        for name, path in ALL.items()
    }
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph) or [])}"


def test_cycle_detector_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_imports_inside_functions_count() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from edge_app.settings import Settings\n"
        "def f():\n    from edge_app.errors import EdgeError\n"
        "    def g():\n        from .. import context\n"
    )
    found = _imports_in(ast.parse(source), "edge_app.cli.main", is_pkg=False)
    assert {"edge_app.settings", "edge_app.errors", "edge_app.context"} <= found
    assert "edge_app.cli.main" not in found


def test_edge_app_top_level_stays_small() -> None:
    top = [p.name for p in (REPO / "edge_app").glob("*.py")]
    assert len(top) <= 8, f"edge_app/ has {len(top)} top-level modules: {sorted(top)}"


@pytest.mark.slow
def test_every_module_imports_in_a_fresh_interpreter() -> None:
    names = [n for n in ALL if n not in NEEDS_HARDWARE and not n.endswith("__main__")]

    def run(name: str) -> tuple[str, str]:
        proc = subprocess.run(
            [sys.executable, "-c", f"import {name}"], cwd=REPO, capture_output=True, text=True
        )
        return name, proc.stderr.strip().splitlines()[-1] if proc.returncode else ""

    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = {n: err for n, err in pool.map(run, names) if err}
    assert not failures, failures


def test_architecture_doc_names_only_existing_modules() -> None:
    doc = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(
        re.findall(r"`((?:engines|build_engines|edge_app|webui|edge_bench)/[\w/]+\.py)`", doc)
    )
    assert len(named) > 20
    missing = sorted(p for p in named if not (REPO / p).is_file())
    assert not missing, f"docs/ARCHITECTURE.md names modules that do not exist: {missing}"


def test_architecture_doc_names_every_edge_app_module() -> None:
    doc = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    modules = [
        str(p.relative_to(REPO))
        for p in (REPO / "edge_app").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    ]
    unnamed = sorted(m for m in modules if f"`{m}`" not in doc)
    assert not unnamed, f"edge_app modules missing from docs/ARCHITECTURE.md: {unnamed}"


def test_modules_stay_readable_in_size() -> None:
    long = {
        n: c for n, p in ALL.items() if (c := len(p.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert not long, f"modules over 400 lines (split them by job): {long}"
