"""The Flask application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from cdp.config import Config
from cdp.platform import Platform


def create_app(config: dict[str, Any] | Config | None = None) -> Flask:
    """Build the app from the environment, with ``config`` overriding (tests pass a dict)."""
    cfg = config if isinstance(config, Config) else Config.from_env().with_overrides(config)
    app = Flask(__name__)
    app.config["TESTING"] = cfg.testing
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    platform = Platform(cfg)
    # Fail at start, not on the first request, when the keyring is missing or world-readable.
    platform.keyring  # noqa: B018
    app.extensions["cdp"] = platform

    from cdp import web

    web.init_app(app)

    from cdp.api import register_blueprints

    register_blueprints(app)

    from cdp.console.web import init_app as init_console

    init_console(app)

    if cfg.scheduler_enabled:
        # Every service process may run one: each firing runs once (cdp.jobs.lock).
        import atexit

        from cdp.jobs.scheduler import start_scheduler

        scheduler = start_scheduler(platform)
        app.extensions["cdp_scheduler"] = scheduler
        atexit.register(lambda: scheduler.shutdown(wait=False) if scheduler.running else None)
    return app
