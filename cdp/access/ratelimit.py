"""Rate limiting per API key (Flask-Limiter).

Storage comes from ``Config.ratelimit_storage_uri``: ``redis://...`` in production, because
``memory://`` counts per process and so multiplies the limit by the number of workers.
"""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from cdp.access.apikeys import KEY_PREFIX


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
        headers_enabled=True,
        key_prefix="cdp-rl",
        # Redis down: keep serving with per-process limits rather than fail every request.
        in_memory_fallback_enabled=True,
        default_limits_exempt_when=lambda: request.path in ("/healthz", "/v1/openapi.json"),
    )
    app.extensions["cdp_limiter"] = limiter
    return limiter
