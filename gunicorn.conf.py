"""gunicorn settings of the service: ``gunicorn wsgi:app`` run from this directory reads them.

Any of them can be overridden on the command line or in ``GUNICORN_CMD_ARGS``; the worker
layout also through ``CDP_WORKERS`` / ``CDP_THREADS``.
"""

import os

wsgi_app = "wsgi:app"
bind = os.environ.get("CDP_BIND", "127.0.0.1:8000")

# One process per core, each with a few threads (gthread). A worker runs Python on one core
# at a time (the GIL); its threads overlap the waits on PostgreSQL and Redis. Four threads
# are enough to keep a core busy with customer reads; more only add contention: on the read
# bench (2 cores, 16 clients, scripts/bench/read_api_bench.py, BENCHMARKS.md) 2 x 4 had a
# lower p99 than 2 x 8 in each of four alternated pairs of runs (31.8-44.6 ms against
# 41.5-50.1 ms), mostly at less CPU per read.
# Connections beyond the threads wait inside their worker, not in the kernel's backlog.
# Each thread holds at most one PostgreSQL connection while it serves a request, so the
# service needs about workers x threads connections (plus the scheduler's): keep that under
# the server's max_connections (100 by default) when raising either on a larger machine.
workers = int(os.environ.get("CDP_WORKERS", os.cpu_count() or 2))
worker_class = "gthread"
threads = int(os.environ.get("CDP_THREADS", "4"))

# No access log: a request line can carry a looked-up identifier in its query string
# (GET /v1/customers?identifier_type=phone&value=...), and logs hold no personal data.
accesslog = None

# gunicorn's own error log and parser errors (a request it cannot parse never reaches the
# app): the log keeps the kind of error without any of the request line (which may hold a
# looked-up phone number), and the client gets the API's JSON error body instead of an
# HTML page quoting its request. See cdp/http/gunicorn_support.py.
logger_class = "cdp.http.gunicorn_support.RedactingLogger"


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    from cdp.http.gunicorn_support import install_json_parser_errors

    install_json_parser_errors()
