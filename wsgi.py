"""WSGI entry point: ``gunicorn wsgi:app`` (or ``cdp serve``)."""

from cdp.wsgi import app  # noqa: F401
