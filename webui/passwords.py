"""The admin password (salted scrypt hash) and the one-time setup token, on disk, 0600.

Kept apart from `webui.auth` (the Flask views and guards) so that `webui.state` can name
the store without importing the views: no import cycle.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from edge_app.private_files import write_private
from webui.security import csrf_matches

__all__ = ["MIN_PASSWORD_LENGTH", "PasswordStore"]

MIN_PASSWORD_LENGTH = 8


class PasswordStore:
    """A password hash (the admin's, and before it exists the setup token; or the optional
    guest password: ``PasswordStore(data_dir, "guest")``) on disk, 0600."""

    def __init__(self, data_dir: Path, role: str = "admin") -> None:
        self.data_dir = Path(data_dir)
        self.hash_path = self.data_dir / f"{role}_password"
        self.token_path = self.data_dir / ("setup_token" if role == "admin" else f"{role}_token")

    def is_set(self) -> bool:
        """True once an admin password was chosen."""
        return self.hash_path.is_file()

    def set_password(self, password: str) -> None:
        """Store a salted scrypt hash (never the password) and retire the setup token."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
        write_private(self.hash_path, generate_password_hash(password, "scrypt").encode())
        self.token_path.unlink(missing_ok=True)

    def verify(self, password: str) -> bool:
        """Check a login attempt against the stored hash (constant-time inside werkzeug)."""
        if not self.is_set():
            return False
        stored = self.hash_path.read_text(encoding="utf-8").strip()
        return check_password_hash(stored, password)

    def setup_token(self) -> str | None:
        """The one-time setup token, created on first call; None once a password exists."""
        if self.is_set():
            return None
        if self.token_path.is_file():
            token = self.token_path.read_text(encoding="utf-8").strip()
            if token:
                return token
        return self._new_token()

    def _new_token(self) -> str:
        token = secrets.token_urlsafe(12)
        write_private(self.token_path, token.encode())
        return token

    def remove(self) -> None:
        """Forget the password (the guest password: guests then need guest access on)."""
        self.hash_path.unlink(missing_ok=True)

    def reset(self) -> str:
        """Forget the password and issue a fresh setup token (owner with root access)."""
        self.hash_path.unlink(missing_ok=True)
        return self._new_token()

    def check_setup_token(self, given: str) -> bool:
        """Constant-time comparison against the current token."""
        token = self.setup_token()
        return token is not None and csrf_matches(token, given.strip())
