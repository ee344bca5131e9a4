"""Rate limiting per API key (Flask-Limiter).

Storage comes from ``Config.ratelimit_storage_uri``: ``redis://...`` in production, because
``memory://`` counts per process and so multiplies the limit by the number of workers.

One storage call per request: the limit is counted and checked in one step (a Lua script on
Redis). Flask-Limiter's ``X-RateLimit-*`` headers on every response would cost a second
call (reading the window back, about a fifth of a customer read's CPU time); they are sent
on refusals only, where a client needs them: a 429 carries ``Retry-After`` and the
``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` of the limit that was exceeded.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from cdp.access.apikeys import KEY_PREFIX

log = logging.getLogger("cdp.access.ratelimit")


def rate_limit_key() -> str:
    """The API key's public prefix (no database read); the client address without a key."""
    _, _, token = request.headers.get("Authorization", "").partition(" ")
    parts = token.strip().split("_", 2)
    if len(parts) == 3 and parts[0] == KEY_PREFIX and parts[1].isalnum() and len(parts[1]) <= 24:
        return f"key:{parts[1]}"
    return f"addr:{get_remote_address()}"


def init_limiter(app: Flask) -> Limiter:
    """Attach one limiter to ``app`` (idempotent), limits from the platform's config."""
    existing = app.extensions.get("cdp_limiter")
    if existing is not None:
        return existing
    cfg = app.extensions["cdp"].config
    limiter = Limiter(
        rate_limit_key,
        app=app,
        default_limits=[cfg.ratelimit_default],
        storage_uri=cfg.ratelimit_storage_uri,
        # Sliding-window counter: two counters per key and window, O(1) per request in
        # Redis. The moving window kept one list entry per hit (as many as the limit) and
        # searched it on every request to fill in the X-RateLimit-* headers; the counter
        # weights the previous window by its overlap, so a burst at a window's edge cannot
        # get twice the limit through as with fixed windows.
        strategy="sliding-window-counter",
        # Not on every response: see the module docstring and _refusal_headers.
        headers_enabled=False,
        key_prefix="cdp-rl",
        # Redis down: keep serving with per-process limits rather than fail every request.
        in_memory_fallback_enabled=True,
        default_limits_exempt_when=lambda: request.path in ("/healthz", "/v1/openapi.json"),
    )

    @app.after_request
    def _refusal_headers(response: Response) -> Response:
        if response.status_code == 429:
            _add_refusal_headers(limiter, response)
        return response

    app.extensions["cdp_limiter"] = limiter
    return limiter


def _add_refusal_headers(limiter: Limiter, response: Response) -> None:
    """``Retry-After`` and ``X-RateLimit-*`` of the exceeded limit (one storage read)."""
    breached = limiter.current_limit
    if breached is None:
        return
    try:
        reset_at, remaining = breached.window
    except Exception as exc:  # noqa: BLE001 - storage unreachable: refuse without the hints
        log.warning("rate limit window unreadable: %s", type(exc).__name__)
        return
    reset = int(reset_at + 1)
    response.headers["X-RateLimit-Limit"] = str(breached.limit.amount)
    response.headers["X-RateLimit-Remaining"] = str(max(int(remaining), 0))
    response.headers["X-RateLimit-Reset"] = str(reset)
    response.headers["Retry-After"] = str(max(reset - int(time.time()), 1))
