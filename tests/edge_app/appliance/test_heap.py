"""The daemon's glibc heap settings, observed in a fresh process (arenas are per process):
malloc_info counts the arenas."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

PROBE = r"""
import ctypes, json, os, sys, tempfile, threading
from edge_app.appliance import heap

configured = heap.configure() if sys.argv[1] == "configure" else None
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.fdopen.restype = ctypes.c_void_p
libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]

started = threading.Barrier(7)
def worker():
    libc.free(libc.malloc(4096))
    started.wait()
threads = [threading.Thread(target=worker) for _ in range(6)]
[t.start() for t in threads]
started.wait()
fd, path = tempfile.mkstemp()
stream = libc.fdopen(fd, b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
arenas = open(path).read().count("<heap nr=")
os.unlink(path)
[t.join() for t in threads]
print(json.dumps({"configured": configured, "arenas": arenas, "trimmed": heap.trim()}))
"""


def _probe(mode: str) -> dict[str, object]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout))


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_configure_caps_the_arenas() -> None:
    default, configured = _probe("default"), _probe("configure")
    assert default["arenas"] == 7  # glibc: one arena per thread (up to 8 per core)
    assert configured["configured"] is True and configured["arenas"] == 2
    assert isinstance(configured["trimmed"], bool)


def test_skip_pandas_keeps_sqlite_utils_from_loading_pandas_and_pyarrow() -> None:
    code = (
        "import sys; from edge_app.appliance import heap; print(heap.skip_pandas()); "
        "import sqlite_utils.db as db; print(db.pd is None, 'pyarrow' in sys.modules)"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "False"]
