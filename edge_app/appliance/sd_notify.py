"""systemd's notification protocol (sd_notify) for the daemon: READY, STATUS, WATCHDOG and
STOPPING messages; nothing at all when the service manager did not ask for them."""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


class Notifier:
    """sd_notify: READY/STATUS/WATCHDOG/STOPPING; a no-op when NOTIFY_SOCKET is unset."""

    def __init__(self) -> None:
        env = os.environ  # sdnotify itself reads NOTIFY_SOCKET from the process environment
        self._notifier: Any = None
        if env.get("NOTIFY_SOCKET"):
            import sdnotify

            self._notifier = sdnotify.SystemdNotifier(debug=True)
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_interval_s = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None

    def notify(self, message: str) -> None:
        """Send one message; a broken socket is logged, never fatal for the service."""
        if self._notifier is None:
            return
        try:
            self._notifier.notify(message)
        except OSError as exc:
            log.warning("event=sd_notify_failed message=%r error=%r", message, exc)
