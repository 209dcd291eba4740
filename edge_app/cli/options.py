"""Shared machinery of ``edge-app``: global options, version, data-dir checks, broken pipe.

Kept out of `edge_app.cli.main` so that module stays the command table plus the core
commands; nothing here prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from edge_app.errors import ConfigError
from edge_app.settings import Settings


def global_options(after_command: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name. After it, an option not
    given is left out of the namespace (SUPPRESS), so it cannot undo one given before."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("global options")
    unset: Any = argparse.SUPPRESS if after_command else None
    group.add_argument("--config", type=Path, default=unset, help="settings file (TOML)")
    group.add_argument("--data-dir", type=Path, default=unset, help="data folder (library, ...)")
    group.add_argument("--bundle", type=Path, default=unset, help="engine bundle folder")
    verbose_default = argparse.SUPPRESS if after_command else 0
    group.add_argument(
        "-v", "--verbose", action="count", default=verbose_default, help="more logging"
    )
    return parser


def package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("edge-photo-search")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def check_data_dir(settings: Settings, needs_library: bool) -> None:
    """A file as data dir, or a read-only command on a data dir without a library, is a
    usage mistake (often a typo): say so instead of creating an empty library."""
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        raise ConfigError(f"data dir {settings.data_dir} is a file, not a folder")
    if needs_library and not settings.db_path.is_file():
        raise ConfigError(
            f"no library in {settings.data_dir} (is --data-dir / EDGE_DATA_DIR right?); "
            "`edge-app index` or `edge-app import FOLDER` creates one"
        )


def silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so Python's exit-time flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
