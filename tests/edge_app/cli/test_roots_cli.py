"""``edge-app roots list|add|remove`` and ``edge-app index PATH`` with extra roots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_app.cli.main import EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, main
from tests.edge_app.watch.harness import write_jpeg


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_roots_add_index_list_remove(
    tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--data-dir", str(tmp_path / "data"), "--bundle", str(tiny_bundle)]
    card = tmp_path / "card"
    for i in range(3):
        write_jpeg(card / "DCIM" / f"IMG_{i}.JPG", seed=i)
    code, out, _ = _run(capsys, *base, "roots", "add", str(card))
    assert code == EXIT_OK and "added root 2" in out
    code, _, err = _run(capsys, *base, "roots", "add", str(card / "DCIM"))
    assert code == EXIT_CONFIG and "overlaps the root" in err
    code, _, err = _run(capsys, *base, "roots", "add", str(tmp_path / "nothing"))
    assert code == EXIT_CONFIG and "does not exist" in err

    code, out, _ = _run(capsys, *base, "index", str(card / "DCIM"), "--json")
    assert code == EXIT_OK and json.loads(out)["encoded"] == 3
    code, _, err = _run(capsys, *base, "index", str(tmp_path))
    assert code == EXIT_USAGE and "outside the library and every photo root" in err

    code, out, _ = _run(capsys, *base, "roots", "list", "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows[2]["photos"] == 3 and rows[2]["online"] and rows[2]["last_scan"]
    assert rows[2]["watch"] == "not running"  # no daemon: said plainly
    code, out, _ = _run(capsys, *base, "roots", "list")
    assert "card  [user] online, 3 photos" in out

    code, _, err = _run(capsys, *base, "roots", "remove", "9")
    assert code == EXIT_NOT_FOUND and "no photo root '9'" in err
    code, out, _ = _run(capsys, *base, "roots", "remove", str(card))
    assert code == EXIT_OK and "forgot 3 photos" in out
    assert len(list(card.rglob("*.JPG"))) == 3
