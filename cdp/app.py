"""The Flask application factory."""

from __future__ import annotations

import importlib
from typing import Any

from flask import Flask, Response, jsonify

from cdp import audit, extensions, http
from cdp.config import Config
from cdp.pii.allow import use_policy_dir
from cdp.platform import Platform

# Each capability's blueprint module; every blueprint is mounted under /v1.
BLUEPRINT_MODULES: list[str] = [
    "cdp.exports.views",
    "cdp.rights.views",
    "cdp.identity.views",
    "cdp.access.views",
    "cdp.audit.views",
    "cdp.crm.views",
]


def _register_blueprints(app: Flask) -> None:
    for module in BLUEPRINT_MODULES:
        app.register_blueprint(importlib.import_module(module).bp, url_prefix="/v1")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})


def create_app(config: dict[str, Any] | Config | None = None) -> Flask:
    """Build the app from the environment, with ``config`` overriding (tests pass a dict)."""
    cfg = config if isinstance(config, Config) else Config.from_env().with_overrides(config)
    app = Flask(__name__)
    app.config["TESTING"] = cfg.testing
    # Flask types app.json as the provider base class; its default provider has these.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    platform = Platform(cfg)
    use_policy_dir(cfg.policy_dir)  # the deployment's own names, never personal data
    # Fail at start, not on the first request, when the keyring is missing or world-readable.
    platform.keyring  # noqa: B018
    app.extensions["cdp"] = platform

    http.init_app(app)
    audit.init_app(app)
    _register_blueprints(app)
    extensions.install()

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
