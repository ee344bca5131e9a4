"""WSGI entry point: ``gunicorn wsgi:app``."""

import gc

from cdp.app import create_app
from cdp.log_config import configure_logging

configure_logging()
app = create_app()
# Everything loaded at start lives as long as the worker: frozen, the cyclic collector no
# longer walks it on every full collection (pauses that land on requests' latency).
gc.collect()
gc.freeze()
