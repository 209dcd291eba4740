"""A stop signal in the first moments of `serve` (systemd stopping a unit it has just
started; the CLI test that sends SIGTERM as soon as the daemon logs "listening").

The signal handler raises in the main thread wherever it happens to be. Arriving after
the web server's worker threads had started but before the serve loop's cleanup was in
place, it left the process alive for good (those threads are not daemon threads): the
pipe test of the CLI hung 1 run in 24 on a loaded 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.webui.daemon_process import free_port

SCRIPT = """
import os, signal, sys
from edge_app.appliance.daemon import serve
from edge_app.settings import load_settings
sys.exit(serve(load_settings(), on_ready=lambda port: os.kill(os.getpid(), signal.SIGTERM)))
"""


def test_a_stop_signal_right_after_listening_shuts_everything_down(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    env = {
        **os.environ,
        "EDGE_DATA_DIR": str(tmp_path / "data"),
        "EDGE_BUNDLE_DIR": str(tiny_bundle),
        "EDGE_HOST": "127.0.0.1",
        "EDGE_PORT": str(free_port()),
        "EDGE_HTTP_REDIRECT_PORT": "0",
    }
    env.pop("NOTIFY_SOCKET", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "event=stopped" in done.stdout + done.stderr
