"""``kill -9`` of a real indexer process at exact points, then a restart.

The process is ``python -m edge_app index``; the test hook ``EDGE_TEST_KILL_AT`` makes it
SIGKILL itself after the scan, in the middle of a batch (encoded, not committed) or right
after a commit (before FAISS saw the batch). The restart must end with exactly the
expected photos, each encoded once overall, and a FAISS file that matches SQLite.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_app.failpoints import KILL_HOOK_ENV, KILL_SIGNAL_ENV
from edge_app.library.store import Library
from edge_app.search.index_store import IndexStore
from engines.manifest import Manifest

REPO = Path(__file__).resolve().parents[3]
N_GOOD = 14
BATCH = 4
BAD = ("zz_bad/empty.jpg", "zz_bad/text.jpg")  # sorted last: batches 1-3 are good photos


def _index(
    data: Path, bundle: Path, hook: str | None = None, sig: str = "KILL"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGE_BATCH_SIZE": str(BATCH), "EDGE_DECODE_WORKERS": "2"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.pop(KILL_HOOK_ENV, None)
    if hook:
        env[KILL_HOOK_ENV], env[KILL_SIGNAL_ENV] = hook, sig
    cmd = [sys.executable, "-m", "edge_app", "--data-dir", str(data), "--bundle", str(bundle)]
    return subprocess.run(
        [*cmd, "index", "--json"], env=env, capture_output=True, text=True, timeout=300
    )


def _rows(data: Path) -> dict[str, str]:
    """rel_path -> status, as committed."""
    db = data / "library.db"
    if not db.is_file():
        return {}
    with Library.open_reader(db) as lib:
        return {p: k.status for p, k in lib.known_files().items()}


@pytest.fixture()
def data_dir(tmp_path: Path, shapes_photos: list[tuple[Path, object]]) -> Path:
    library = tmp_path / "data" / "library"
    library.mkdir(parents=True)
    for src, _ in shapes_photos[:N_GOOD]:
        shutil.copy2(src, library / src.name)
    (library / "zz_bad").mkdir()
    (library / BAD[0]).write_bytes(b"")
    (library / BAD[1]).write_text("hello\n")
    return tmp_path / "data"


@pytest.mark.parametrize(
    ("hook", "committed_rows"),
    [
        ("after-scan", 0),
        ("mid-batch:2", BATCH),
        ("after-commit:1", BATCH),
        ("after-commit:3", 3 * BATCH),
    ],
)
def test_kill_then_restart_loses_nothing_and_repeats_nothing(
    data_dir: Path, tiny_bundle: Path, hook: str, committed_rows: int
) -> None:
    killed = _index(data_dir, tiny_bundle, hook)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    before = _rows(data_dir)
    assert len(before) == committed_rows

    resumed = _index(data_dir, tiny_bundle)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["encoded"] == N_GOOD - committed_rows  # committed photos are not redone
    if hook.startswith("after-commit"):
        assert "rebuilding from SQLite" in resumed.stderr  # FAISS was behind: repaired

    after = _rows(data_dir)
    assert sorted(p for p, s in after.items() if s == "indexed") == sorted(
        p.name for p in (data_dir / "library").glob("*.jpg")
    )
    assert sorted(p for p, s in after.items() if s == "error") == sorted(BAD)
    _assert_saved_index_matches_sqlite(data_dir, tiny_bundle)


def _assert_saved_index_matches_sqlite(data: Path, bundle: Path, expect: int = N_GOOD) -> None:
    """Load the saved FAISS file strictly (no repair) and compare ids with SQLite."""
    manifest = Manifest.load(bundle)
    with Library.open_reader(data / "library.db") as lib:
        generation = lib.index_generation()
        ids = sorted(int(i) for b, _ in lib.iter_embeddings(manifest.bundle_id) for i in b)
    index = IndexStore(data / "index").load(manifest.bundle_id, generation, manifest.embedding_dim)
    assert np.array_equal(index.ids(), np.asarray(ids, dtype=np.int64))
    assert len(ids) == expect


def test_second_restart_is_a_no_op(data_dir: Path, tiny_bundle: Path) -> None:
    assert _index(data_dir, tiny_bundle, "after-commit:2").returncode == -signal.SIGKILL
    assert _index(data_dir, tiny_bundle).returncode == 0
    again = json.loads(_index(data_dir, tiny_bundle).stdout)
    assert (again["encoded"], again["unchanged"]) == (0, N_GOOD + len(BAD))


def test_sigterm_checkpoints_the_batch_and_exits_cleanly(data_dir: Path, tiny_bundle: Path) -> None:
    stopped = _index(data_dir, tiny_bundle, "after-commit:2", sig="TERM")
    assert stopped.returncode == 130, stopped.stderr  # EXIT_INTERRUPTED, not killed
    report = json.loads(stopped.stdout)
    assert report["stopped"] and report["batches"] == 2
    _assert_saved_index_matches_sqlite(data_dir, tiny_bundle, expect=2 * BATCH)
    resumed = json.loads(_index(data_dir, tiny_bundle).stdout)
    assert resumed["encoded"] == N_GOOD - 2 * BATCH
    _assert_saved_index_matches_sqlite(data_dir, tiny_bundle)
