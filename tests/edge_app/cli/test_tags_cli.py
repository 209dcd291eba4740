"""``edge-app tags ...`` in-process against a real toy-shapes bundle and library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from build_engines.shapes import COLORS, SHAPES
from edge_app.cli.main import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, main


@pytest.fixture()
def data(tmp_path: Path, shapes_photos: list[tuple[Path, object]], toy_bundle: Path) -> Path:
    library = tmp_path / "data" / "library"
    library.mkdir(parents=True)
    for src, _ in shapes_photos[:24]:
        shutil.copy2(src, library / src.name)
    return tmp_path / "data"


def _run(
    capsys: pytest.CaptureFixture[str], data: Path, bundle: Path, *argv: str
) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data), "--bundle", str(bundle), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_retag_list_edit_delete(
    capsys: pytest.CaptureFixture[str], data: Path, toy_bundle: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("EDGE_TAG_THRESHOLD", "0.75")
    monkeypatch.setenv("EDGE_TAG_BUILTIN_SETS", "")
    assert _run(capsys, data, toy_bundle, "index")[0] == EXIT_OK
    labels = tmp_path / "colours.txt"
    labels.write_text(
        "".join(f"{c}: " + "; ".join(f"a {c} {s}" for s in SHAPES) + "\n" for c in COLORS)
    )
    code, out, _ = _run(capsys, data, toy_bundle, "tags", "add", "colours", "--labels", str(labels))
    assert code == EXIT_OK and "5 labels" in out
    code, out, _ = _run(capsys, data, toy_bundle, "tags", "retag")
    assert code == EXIT_OK and "colours" in out and "done" in out
    code, out, _ = _run(capsys, data, toy_bundle, "tags", "list", "--json")
    listed = json.loads(out)
    assert {t["name"] for t in listed["tags"]} <= set(COLORS) and listed["tags"]
    code, out, _ = _run(capsys, data, toy_bundle, "tags", "retag")
    assert "up to date" in out
    code, out, _ = _run(capsys, data, toy_bundle, "status")
    assert "tags" in out and "1 sets" in out
    code, _, _ = _run(capsys, data, toy_bundle, "tags", "edit", "colours", "--label", "red")
    assert code == EXIT_OK
    code, out, _ = _run(capsys, data, toy_bundle, "tags", "show", "colours")
    assert "red" in out and "blue" not in out
    assert _run(capsys, data, toy_bundle, "tags", "delete", "colours")[0] == EXIT_OK
    code, _, err = _run(capsys, data, toy_bundle, "tags", "show", "colours")
    assert code == EXIT_NOT_FOUND and "no label set named 'colours'" in err


def test_bad_definitions_exit_with_a_message(
    capsys: pytest.CaptureFixture[str], data: Path, toy_bundle: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(["dent", ""]))
    code, _, err = _run(capsys, data, toy_bundle, "tags", "add", "defects", "--labels", str(bad))
    assert code == EXIT_ERROR and "label 2 has an empty name" in err
    assert _run(capsys, data, toy_bundle, "tags", "add", "defects", "--label", "dent")[0] == EXIT_OK
    code, _, err = _run(capsys, data, toy_bundle, "tags", "add", "Defects", "--label", "x")
    assert code == EXIT_ERROR and "already exists" in err
    code, out, _ = _run(capsys, data, toy_bundle, "tags", "install", "everyday")
    assert code == EXIT_OK and "labels" in out
    code, _, err = _run(capsys, data, toy_bundle, "tags", "install", "nonsense")
    assert code == EXIT_ERROR and "no built-in label set" in err
