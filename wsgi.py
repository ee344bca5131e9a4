"""WSGI entry point: ``gunicorn wsgi:app``."""

from cdp.app import create_app
from cdp.log_config import configure_logging

configure_logging()
app = create_app()
