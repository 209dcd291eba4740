"""``kill -9`` of a real `edge-app ocr` process mid-pass, then a restart.

The test hook ``EDGE_TEST_KILL_AT`` makes the process SIGKILL itself after reading a
photo but before committing it (``ocr-mid-photo:N``) or right after a commit
(``ocr-after-commit:N``). The restart must end with every photo read exactly once:
the same lines as an uninterrupted run, no doubled line, a consistent FTS index.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from edge_app.library.store import Library
from tests.edge_app.cli_process import edge_app_process
from tests.edge_app.enrich.ocr_fixtures import write_text_photos

REPO = Path(__file__).resolve().parents[3]


def _run(
    data: Path, bundle: Path, command: str, hook: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`edge-app COMMAND --json`; ``index`` only embeds (`--no-ocr`): the OCR pass is
    what this file kills."""
    extra = ["--no-ocr"] if command == "index" else []
    return edge_app_process(data, bundle, command, "--json", *extra, hook=hook)


def _lines(data: Path) -> dict[str, list[str]]:
    """rel_path -> recognised lines, and the FTS index checked against them."""
    with Library(data / "library.db") as lib:
        lib.check_ocr_index()
        photos = {p: lib.find_by_rel_path(p) for p in lib.known_files()}
        return {p: [ln.text for ln in lib.ocr_lines(ph.id)] for p, ph in photos.items() if ph}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, ocr_bundle: Path) -> dict[str, list[str]]:
    data = tmp_path_factory.mktemp("ocr-ref")
    write_text_photos(data / "library")
    assert _run(data, ocr_bundle, "index").returncode == 0
    assert _run(data, ocr_bundle, "ocr").returncode == 0
    lines = _lines(data)
    assert sum(len(v) for v in lines.values()) >= 4  # the drawn words were read
    return lines


@pytest.mark.parametrize(("hook", "committed"), [("ocr-mid-photo:3", 2), ("ocr-after-commit:2", 2)])
def test_kill_during_ocr_then_restart_loses_and_doubles_nothing(
    tmp_path: Path, ocr_bundle: Path, reference: dict[str, list[str]], hook: str, committed: int
) -> None:
    data = tmp_path / "data"
    write_text_photos(data / "library")
    assert _run(data, ocr_bundle, "index").returncode == 0
    killed = _run(data, ocr_bundle, "ocr", hook)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with Library.open_reader(data / "library.db") as lib:
        counts = lib.ocr_counts()
    assert counts["pending"] == len(reference) - committed
    resumed = _run(data, ocr_bundle, "ocr")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["done"] + report["no_text"] == len(reference) - committed  # only the rest
    assert _lines(data) == reference
    assert report["library"]["pending"] == 0
