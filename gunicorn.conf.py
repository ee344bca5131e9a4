"""gunicorn settings: ``gunicorn -c gunicorn.conf.py`` from this directory (``cdp serve`` reads the same)."""

from cdp.gunicorn_conf import *  # noqa: F403
