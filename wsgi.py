"""WSGI entry point: ``gunicorn wsgi:app``."""

from cdp.app import create_app
from cdp.log_config import configure_logging
from cdp.http.serving import prepare_gc_for_serving

configure_logging()
app = create_app()
# Everything loaded at start lives as long as the worker: frozen, the cyclic collector no
# longer walks it on every full collection (pauses that land on requests' latency); young
# collections made rarer (see cdp.http.serving.SERVING_GC_THRESHOLD).
prepare_gc_for_serving()
