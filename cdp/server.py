"""``cdp serve``: the service under gunicorn with the settings of ``cdp.gunicorn_conf``."""

from __future__ import annotations

import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from cdp import gunicorn_conf


def settings(**overrides: Any) -> dict[str, Any]:
    """The service's gunicorn settings, ``overrides`` (None values ignored) on top."""
    values = {k: v for k, v in vars(gunicorn_conf).items() if not k.startswith("_") and k.islower()}
    values.pop("os", None)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return values


class _Arbiter(Arbiter):
    """gunicorn's arbiter, with Ctrl-C (SIGINT) stopping as gracefully as SIGTERM: the
    workers finish the requests they hold (their transactions commit or roll back whole)
    instead of being told to quit at once from inside a signal handler."""

    def handle_int(self) -> None:
        self.handle_term()


class Service(BaseApplication):
    """gunicorn's arbiter serving ``cdp.wsgi:app``; each worker builds its own app."""

    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def run(self) -> None:
        try:
            _Arbiter(self).run()
        except RuntimeError as exc:
            sys.exit(f"error: {exc}")

    def load(self) -> Flask:
        from cdp.wsgi import app

        return app


def serve(host: str, port: int, workers: int | None = None, threads: int | None = None) -> None:
    """Run gunicorn in the foreground until SIGINT or SIGTERM (both stop it cleanly)."""
    Service(settings(bind=f"{host}:{port}", workers=workers, threads=threads)).run()


def serve_dev(host: str, port: int) -> None:
    """Flask's development server with its reloader (never for production)."""
    from cdp.app import create_app
    from cdp.log_config import configure_logging

    configure_logging()
    create_app().run(host=host, port=port, threaded=True, use_reloader=True)
