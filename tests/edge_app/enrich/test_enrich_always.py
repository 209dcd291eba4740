"""Enrichment always happens (issue 24): `edge-app import` tags and reads the text of the
photos it brings in, and a daemon started on a library the CLI indexed without them reads
and tags what is pending by itself. Real PP-OCR models, SQLite, FAISS, a real `serve`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_app.cli.main import EXIT_OK, main
from edge_app.enrich.passes import tag_progress
from edge_app.library.store import Library
from engines.manifest import Manifest
from tests.edge_app.enrich.ocr_fixtures import damaged_ocr_copy, write_text_photos

REPO = Path(__file__).resolve().parents[3]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_cli_import_makes_drawn_words_findable_with_no_further_command(
    tmp_path: Path, ocr_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_text_photos(tmp_path / "stick")
    base = ["--data-dir", str(tmp_path / "data"), "--bundle", str(ocr_bundle)]
    code, out = _run(capsys, *base, "import", str(tmp_path / "stick"))
    assert code == EXIT_OK
    assert "Read the text in 5 photos" in out and "4 with text, 1 without." in out
    assert "label set 'everyday'" in out  # the built-in set was installed and tagged
    assert "{" not in out  # sentences, no raw dict
    code, out = _run(capsys, *base, "search", 'text:"WAREHOUSE"', "--json")
    assert [Path(h["path"]).name for h in json.loads(out)["results"]] == ["sign_en.jpg"]
    code, out = _run(capsys, *base, "status", "--json")
    status = json.loads(out)
    assert status["ocr"] == {"done": 4, "no_text": 1, "failed": 0, "pending": 0}
    assert status["tags"]["sets"] == 1 and status["tags"]["waiting_sets"] == 0
    code, out = _run(capsys, *base, "status")
    assert "text     Text in the library: 5 photos read (4 with text), 0 waiting." in out
    assert "0 label sets waiting to be tagged" in out


def test_no_ocr_and_no_tags_skip_the_passes_and_status_shows_what_waits(
    tmp_path: Path, ocr_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_text_photos(tmp_path / "data" / "library")
    base = ["--data-dir", str(tmp_path / "data"), "--bundle", str(ocr_bundle)]
    code, out = _run(capsys, *base, "index", "--no-ocr", "--no-tags")
    assert code == EXIT_OK
    assert "Tagging skipped (--no-tags)." in out and "Reading text skipped (--no-ocr)." in out
    assert "5 waiting." in out
    code, out = _run(capsys, *base, "status")
    assert "0 photos read (0 with text), 5 waiting." in out
    assert "1 label sets waiting to be tagged" in out  # "everyday" is not installed yet


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _enriched(db: Path, bundle_id: str) -> bool:
    with Library.open_reader(db) as lib:
        waiting = tag_progress(lib, bundle_id, "everyday")["waiting_sets"]
        return lib.ocr_counts()["pending"] == 0 and waiting == 0


def test_daemon_reads_and_tags_a_cli_indexed_library_by_itself(
    tmp_path: Path, ocr_bundle: Path
) -> None:
    data = tmp_path / "data"
    write_text_photos(data / "library")
    base = ["--data-dir", str(data), "--bundle", str(ocr_bundle)]
    assert main([*base, "index", "--no-ocr", "--no-tags", "--json"]) == EXIT_OK
    bundle_id = Manifest.load(ocr_bundle).bundle_id
    assert not _enriched(data / "library.db", bundle_id)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [sys.executable, "-m", "edge_app", *base, "serve", "--host", "127.0.0.1",
            "--port", str(_free_port())]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not _enriched(data / "library.db", bundle_id) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
    assert _enriched(data / "library.db", bundle_id)
    with Library.open_reader(data / "library.db") as lib:
        assert lib.ocr_counts() == {"done": 4, "no_text": 1, "failed": 0, "pending": 0}
        assert [s.name for s in lib.list_label_sets()] == ["everyday"]


def test_index_with_a_damaged_ocr_model_still_indexes_and_says_why_no_text_was_read(
    tmp_path: Path, ocr_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = damaged_ocr_copy(ocr_bundle, tmp_path / "bundle")
    write_text_photos(tmp_path / "data" / "library")
    base = ["--data-dir", str(tmp_path / "data"), "--bundle", str(broken)]
    code, out = _run(capsys, *base, "index", "--no-tags")
    assert code == EXIT_OK and "(5 encoded, 0 reused)." in out
    assert "No text read: " in out and "ocr_rec_fp32.onnx" in out and "5 waiting." in out
