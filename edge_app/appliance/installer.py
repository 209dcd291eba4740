"""``edge-app install`` / ``edge-app uninstall``: put the appliance's system files in place.

Why Python and systemd's own tools instead of a shell script full of ``useradd`` and
``mkdir``: the user comes from a sysusers.d file and the directories from a tmpfiles.d
file, applied with ``systemd-sysusers`` / ``systemd-tmpfiles`` — declarative, idempotent,
and the same files recreate ``/run/edge-search`` on every boot. Every step also works
against a different root (``--root``, e.g. an image being prepared, or a test's temp
dir): only reloading the running systemd/udev is skipped there.

Layout (relative to the root): units in ``etc/systemd/system``, the udev rule in
``etc/udev/rules.d``, tmpfiles/sysusers in ``etc/tmpfiles.d`` / ``etc/sysusers.d``, the
root-only mount helper in ``usr/local/lib/edge-search``, the config in ``etc/edge-search``
(never overwritten, kept on uninstall unless ``purge``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_app.errors import EdgeError

__all__ = ["FILES", "InstallError", "Runner", "install", "run_command", "uninstall"]

SOURCE_DIR = Path(__file__).resolve().parents[2] / "systemd"
DAEMON_UNIT = "edge-search.service"
IMPORT_UNITS = "edge-search-import@*.service"
CONFIG = Path("etc/edge-search/config.toml")
STATE_DIR = Path("var/lib/edge-search")
DEFAULT_CONFIG = """\
# edge-photo-search settings (docs/APPLIANCE.md). EDGE_* environment variables override.
data_dir = "/var/lib/edge-search"
# "auto": import every USB stick that is plugged in; "ask": wait for a yes in the web UI.
import_mode = "auto"
# HTTPS with the box's own certificate (docs/SECURITY.md); plain HTTP on 8080 redirects.
port = 8443
"""

Runner = Callable[[Sequence[str]], None]


class InstallError(EdgeError):
    """Installing or removing the system files failed; the message says which step."""


@dataclass(frozen=True)
class ShippedFile:
    """One file from ``systemd/`` and where it goes (relative to the root)."""

    source: str
    dest: str
    mode: int = 0o644


FILES = (
    ShippedFile("edge-search.service", "etc/systemd/system/edge-search.service"),
    ShippedFile("edge-search-import@.service", "etc/systemd/system/edge-search-import@.service"),
    ShippedFile("99-edge-search-usb.rules", "etc/udev/rules.d/99-edge-search-usb.rules"),
    ShippedFile("tmpfiles.d/edge-search.conf", "etc/tmpfiles.d/edge-search.conf"),
    ShippedFile("sysusers.d/edge-search.conf", "etc/sysusers.d/edge-search.conf"),
    ShippedFile("edge-search-usb-mount", "usr/local/lib/edge-search/edge-search-usb-mount", 0o755),
)


def run_command(argv: Sequence[str]) -> None:
    """Run one system command; a failure becomes `InstallError` with its stderr."""
    try:
        subprocess.run(list(argv), check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise InstallError(f"{argv[0]} is not installed: apt-get install systemd udev") from exc
    except subprocess.CalledProcessError as exc:
        raise InstallError(
            f"`{' '.join(argv)}` failed ({exc.returncode}): {exc.stderr.strip()}"
        ) from exc


def install(
    root: Path = Path("/"),
    source_dir: Path = SOURCE_DIR,
    run: Runner = run_command,
    enable: bool = True,
) -> list[str]:
    """Install users, directories, units, udev rule and helper; returns what was done."""
    done: list[str] = []
    for item in FILES:
        done.append(_copy(source_dir / item.source, root / item.dest, item.mode))
    done.append(_write_default_config(root / CONFIG))
    root_args = _root_args(root)
    done += _run(run, ["systemd-sysusers", *root_args, str(root / FILES[4].dest)])
    done += _run(run, ["systemd-tmpfiles", "--create", *root_args, str(root / FILES[3].dest)])
    if _is_live(root):
        done += _run(run, ["systemctl", "daemon-reload"])
        done += _run(run, ["udevadm", "control", "--reload"])
    if enable:
        done += _run(run, ["systemctl", *root_args, "enable", DAEMON_UNIT])
    return done


def uninstall(root: Path = Path("/"), purge: bool = False, run: Runner = run_command) -> list[str]:
    """Stop and remove everything `install` put in place; ``purge`` also deletes the data.

    Without ``purge`` the photo library, database and config stay, so a reinstall
    (or an upgrade done as uninstall + install) loses nothing.
    """
    done: list[str] = []
    root_args = _root_args(root)
    if _is_live(root):
        done += _run(run, ["systemctl", "stop", DAEMON_UNIT, IMPORT_UNITS])
    if (root / FILES[0].dest).exists():
        done += _run(run, ["systemctl", *root_args, "disable", DAEMON_UNIT])
    for item in FILES:
        target = root / item.dest
        if target.exists():
            target.unlink()
            done.append(f"removed {target}")
    _remove_empty_dir(root / FILES[5].dest, done)
    if _is_live(root):
        done += _run(run, ["systemctl", "daemon-reload"])
        done += _run(run, ["udevadm", "control", "--reload"])
    if purge:
        done += _purge(root, run)
    return done


def _purge(root: Path, run: Runner) -> list[str]:
    done = []
    for folder in (root / STATE_DIR, root / CONFIG.parent):
        if folder.exists():
            shutil.rmtree(folder)
            done.append(f"deleted {folder} (purge)")
    if _is_live(root):
        done += _run(run, ["userdel", "edge-search"])
    return done


def _copy(source: Path, target: Path, mode: int) -> str:
    if not source.is_file():
        raise InstallError(
            f"{source} is missing: run `edge-app install` from a full checkout in /opt/edge-search"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(mode)
    except OSError as exc:
        raise InstallError(f"cannot install {target}: {exc} (run as root)") from exc
    return f"installed {target}"


def _write_default_config(path: Path) -> str:
    if path.exists():
        return f"kept existing {path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEFAULT_CONFIG, encoding="utf-8")
    return f"wrote default {path}"


def _run(run: Runner, argv: list[str]) -> list[str]:
    run(argv)
    return [f"ran {' '.join(argv)}"]


def _remove_empty_dir(file_path: Path, done: list[str]) -> None:
    folder = file_path.parent
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        done.append(f"removed {folder}")


def _root_args(root: Path) -> list[str]:
    return [] if _is_live(root) else [f"--root={root}"]


def _is_live(root: Path) -> bool:
    """Installing into the running system (not an image or a test root)."""
    return root.resolve() == Path("/")
