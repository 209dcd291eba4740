"""Secrets on disk: written atomically, 0600 from the first byte, owned like their folder.

Why the owner: `edge-app passwd`, `reset-password` and `tls install` run as root while the
daemon runs as its service user; a root-owned 0600 file would lock the daemon out.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` atomically with 0600 permissions: secrets must never be world-readable,
    not even for the instant between create and chmod."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    if os.geteuid() == 0:
        folder = path.parent.stat()
        os.chown(tmp, folder.st_uid, folder.st_gid)
    os.replace(tmp, path)
