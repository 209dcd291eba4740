"""Run ``python -m edge_app`` as a real process (crash tests kill it at a failpoint)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from edge_app.failpoints import KILL_HOOK_ENV

REPO = Path(__file__).resolve().parents[2]


def edge_app_process(
    data: Path, bundle: Path, *args: str, hook: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``edge-app --data-dir DATA --bundle BUNDLE ARGS...``; ``hook`` = EDGE_TEST_KILL_AT."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop(KILL_HOOK_ENV, None)
    if hook:
        env[KILL_HOOK_ENV] = hook
    cmd = [sys.executable, "-m", "edge_app", "--data-dir", str(data), "--bundle", str(bundle)]
    return subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=timeout)
