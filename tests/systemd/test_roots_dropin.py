"""The documented photo-roots drop-in (systemd/photo-roots.conf.example) is valid systemd
and keeps the daemon's sandbox as tight as before (roots read-only, exposure unchanged)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.systemd.systemd_tools import analyzable_root

REPO = Path(__file__).resolve().parents[2]
DROPIN = REPO / "systemd" / "photo-roots.conf.example"
UNIT = "/etc/systemd/system/edge-search.service"


@pytest.fixture(scope="module")
def root_with_dropin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = analyzable_root(tmp_path_factory)
    dropins = root / "etc/systemd/system/edge-search.service.d"
    dropins.mkdir(parents=True)
    shutil.copy(DROPIN, dropins / "photo-roots.conf")
    return root


def test_dropin_only_adds_read_only_paths() -> None:
    lines = [ln.strip() for ln in DROPIN.read_text().splitlines()]
    settings = [ln for ln in lines if ln and not ln.startswith(("#", "["))]
    assert all(s.startswith(("ReadOnlyPaths=-/", "After=")) for s in settings), settings
    assert not any("ReadWritePaths" in s for s in settings)


def test_dropin_verifies_clean(root_with_dropin: Path) -> None:
    res = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root_with_dropin}", "--man=no", UNIT],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr


def test_dropin_keeps_exposure_low(root_with_dropin: Path) -> None:
    res = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"--root={root_with_dropin}",
         "--man=no", "--no-pager", UNIT],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", res.stdout)
    assert match, res.stdout + res.stderr
    assert float(match.group(1)) <= 2.0, res.stdout
