"""The WSGI application of a serving process: ``gunicorn cdp.wsgi:app`` (what ``cdp serve`` runs)."""

from flask import Flask

from cdp.app import create_app
from cdp.http.serving import prepare_gc_for_serving
from cdp.log_config import configure_logging


def build() -> Flask:
    """Configure logging, build the app from the environment, and set the collector for serving."""
    configure_logging()
    application = create_app()
    # Everything loaded at start lives as long as the worker: frozen, the cyclic collector no
    # longer walks it on every full collection.
    prepare_gc_for_serving()
    return application


app = build()
