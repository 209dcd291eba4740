"""``edge-app passwd | reset-password``: the admin password from a shell on the box.

Both work while the daemon runs: the daemon reads the password file on every login and
checks every request's session against the library, so a new password or a reset takes
effect at once. Both end every web session. Who may run them is whoever can write the
data dir (root, or the service user): physical or root access is the owner's proof.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from edge_app.errors import ConfigError
from edge_app.settings import Settings


def passwd_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--stdin", action="store_true", help="read the new password from one line of stdin"
    )
    p.add_argument(
        "--guest", action="store_true", help="the guest password instead (ends guest sessions)"
    )


def _ask_password(role: str) -> str:
    first = getpass.getpass(f"new {role} password: ")
    if first != getpass.getpass("repeat it: "):
        raise ConfigError("the two passwords differ; nothing was changed")
    return first


def passwd(args: argparse.Namespace, settings: Settings) -> int:
    """Set a new admin (or guest) password and end every (guest) web session."""
    from webui.passwords import MIN_PASSWORD_LENGTH, PasswordStore

    role = "guest" if args.guest else "admin"
    password = sys.stdin.readline().rstrip("\r\n") if args.stdin else _ask_password(role)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters; nothing was changed"
        )
    PasswordStore(settings.data_dir, role).set_password(password)
    ended = end_all_sessions(settings, "guest" if args.guest else None)
    print(f"{role} password changed; {ended} web session(s) signed out")
    return 0


def reset_args(p: argparse.ArgumentParser) -> None:
    del p  # no options: the command is the proof of access


def reset_password(args: argparse.Namespace, settings: Settings) -> int:
    """Forget the admin password, end every session, print a fresh setup token."""
    from webui.passwords import PasswordStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    token = PasswordStore(settings.data_dir).reset()
    ended = end_all_sessions(settings)
    print(f"admin password removed; {ended} web session(s) signed out")
    print(f"setup token: {token}  (also in {settings.data_dir / 'setup_token'})")
    print("open the web UI, enter the token and choose a new password")
    return 0


def end_all_sessions(settings: Settings, role: str | None = None) -> int:
    """Delete every stored web session (of `role`; none without a library yet)."""
    from edge_app.library.store import Library

    if not settings.db_path.is_file():
        return 0
    with Library(settings.db_path) as library:
        return library.end_sessions(role=role)
