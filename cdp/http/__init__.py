"""Flask glue shared by every capability's blueprint: the request's session and its
commit, request ids, JSON bodies and errors, the OpenAPI document.

It imports no capability: capabilities build on it, and take part in the request's
lifecycle through the hooks of ``cdp.http.lifecycle``.
"""

from __future__ import annotations

from flask import Flask

from cdp.http import errors, hygiene, lifecycle
from cdp.http.context import current_platform, customer_arg, db_session, request_id
from cdp.http.errors import error_response
from cdp.http.jsonio import JSONProvider

# Larger bodies are refused with 413 before they are read: a full batch of records
# (at most 1,000, docs/api.md) fits well inside; a runaway upload does not tie up a worker.
MAX_BODY_BYTES = 4 * 1024 * 1024

__all__ = [
    "MAX_BODY_BYTES",
    "current_platform",
    "customer_arg",
    "db_session",
    "error_response",
    "init_app",
    "request_id",
]


def init_app(app: Flask) -> None:
    """Install the JSON provider, the request lifecycle and the error handlers on ``app``."""
    app.config.setdefault("MAX_CONTENT_LENGTH", MAX_BODY_BYTES)
    if app.config["MAX_CONTENT_LENGTH"] is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    provider = JSONProvider(app)
    # Flask types app.json as the provider base class; the default provider has these.
    provider.ensure_ascii = app.json.ensure_ascii  # type: ignore[attr-defined]
    provider.sort_keys = app.json.sort_keys  # type: ignore[attr-defined]
    app.json = provider
    lifecycle.init_app(app)
    hygiene.init_app(app)
    errors.init_app(app)
