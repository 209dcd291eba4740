"""A temporary root that `systemd-analyze verify`/`security --offline` accept: the installed
files, the distribution's own units (for sysinit.target & co) and stub executables at the
ExecStart= paths, because verify insists the binaries exist."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edge_app.appliance.installer import install

DISTRO_UNITS = Path("/usr/lib/systemd/system")


def analyzable_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install into a fresh temp root ready for systemd-analyze (skips without it)."""
    if not shutil.which("systemd-analyze") or not DISTRO_UNITS.is_dir():
        pytest.skip("systemd-analyze missing: apt-get install systemd")
    root = tmp_path_factory.mktemp("root")
    install(root, enable=False)
    shutil.copytree(DISTRO_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    for stub in ("opt/edge-search/.venv/bin/edge-app", "bin/kill", "usr/bin/systemctl"):
        (root / stub).parent.mkdir(parents=True, exist_ok=True)
        (root / stub).write_text("#!/bin/sh\n")
        (root / stub).chmod(0o755)
    return root
