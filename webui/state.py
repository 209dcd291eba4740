"""Per-app state shared by the blueprints (stored in ``app.extensions["edge"]``).

One object instead of module globals: two apps in one process (tests) never share a
password store, a rate limiter or an AppContext.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from flask import Flask, current_app

from webui.security import LoginRateLimiter

if TYPE_CHECKING:
    from edge_app.context import AppContext
    from edge_app.library.store import Library
    from edge_app.settings import Settings
    from webui.passwords import PasswordStore

EXTENSION_KEY = "edge"


class JobSubmitter(Protocol):
    """What the web app needs from the daemon's job queue (see `edge_app.appliance.daemon.JobQueue`)."""

    def submit(self, kind: str, **params: Any) -> dict[str, Any]:
        """Queue a job and describe it; raises `RuntimeError` once shutdown started."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """Current and queued jobs, for /api/status."""
        ...


class ContextProvider:
    """Hands out the AppContext, opening it on first use when none was injected.

    Opening means loading the engine bundle and the FAISS index (seconds), so it must not
    happen at import or in `create_app`; the login and setup pages work without it.
    """

    def __init__(self, settings: Settings, context: AppContext | None) -> None:
        self._settings = settings
        self._context = context
        self._own_library: Library | None = None
        self._lock = threading.Lock()

    @property
    def opened(self) -> AppContext | None:
        """The context if it is already open, else None (never opens it)."""
        return self._context

    def get(self) -> AppContext:
        """The context, opened once under a lock."""
        if self._context is None:
            with self._lock:
                if self._context is None:
                    from edge_app.context import AppContext

                    self._context = AppContext.open(self._settings)
        return self._context

    def reader(self) -> Library:
        """A read connection for per-request lookups (sessions): the context's reader, so
        a request never waits for the indexer's writer lock; else `library()`."""
        return self._context.reader if self._context is not None else self.library()

    def library(self) -> Library:
        """The library writer for the web's own rows (sessions): the context's when it is
        open (the daemon always injects one), else a connection of its own, opened on
        first use, so the login page still needs no engine bundle."""
        if self._context is not None:
            return self._context.library
        with self._lock:
            if self._own_library is None:
                from edge_app.library.store import Library

                self._own_library = Library(self._settings.db_path)
            return self._own_library


@dataclass
class WebState:
    """Everything a request handler may need besides the request itself."""

    settings: Settings
    passwords: PasswordStore
    contexts: ContextProvider
    guest_password: PasswordStore | None = None  # optional: guests log in with it
    limiter: LoginRateLimiter = field(default_factory=LoginRateLimiter)
    jobs: JobSubmitter | None = None

    @property
    def context(self) -> AppContext:
        """Shortcut for ``contexts.get()``."""
        return self.contexts.get()


def web_state(app: Flask | None = None) -> WebState:
    """The `WebState` of `app` (default: the app handling the current request)."""
    target = app if app is not None else current_app
    state: WebState = target.extensions[EXTENSION_KEY]
    return state


def attach_jobs(app: Flask, jobs: JobSubmitter) -> None:
    """Let the app queue background work (called by the daemon after `create_app`)."""
    web_state(app).jobs = jobs
