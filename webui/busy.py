"""Back-pressure made visible: a full tower queue is a 503 with Retry-After, never a 500.

The API answers `{"error": ...}` (documented in webui/openapi/busy.yaml); a browser gets
a page that says the box is busy and reloads itself after Retry-After seconds (a meta
refresh, so it works without JavaScript too).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, make_response, render_template, request

from engines.errors import EngineBusyError
from webui import auth

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    app.register_error_handler(EngineBusyError, busy_response)


def busy_response(exc: EngineBusyError) -> Response:
    wait = max(1, int(exc.retry_after_s))
    log.warning("event=busy path=%s retry_after_s=%d", request.path, wait)
    message = f"The box is busy with many requests right now; try again in {wait} s."
    if auth.is_api_request():
        response = auth.json_error(message, 503)
    else:
        page = render_template("busy.html", message=message, retry_after=wait)
        response = make_response(page, 503)
    response.headers["Retry-After"] = str(wait)
    return response
