"""gunicorn settings of the service, read by ``cdp serve`` and by ``gunicorn -c gunicorn.conf.py``.

Any of them can be overridden on gunicorn's command line or in ``GUNICORN_CMD_ARGS``; the
worker layout also through ``CDP_WORKERS`` / ``CDP_THREADS``, the address through ``CDP_BIND``.
"""

import os

wsgi_app = "cdp.wsgi:app"
bind = os.environ.get("CDP_BIND", "127.0.0.1:8000")

# One process per core, each with a few threads (gthread). A worker runs Python on one core
# at a time (the GIL); its threads overlap the waits on PostgreSQL and Redis. More threads
# than a few only add contention on the GIL (BENCHMARKS.md, read path).
# Each thread holds at most one PostgreSQL connection while it serves a request, so the
# service needs about workers x threads connections (plus the scheduler's): keep that under
# the server's max_connections (100 by default) when raising either on a larger machine.
workers = int(os.environ.get("CDP_WORKERS", os.cpu_count() or 2))
# gunicorn's gthread worker, which leaves Ctrl-C to the arbiter (cdp/http/gunicorn_support.py).
worker_class = "cdp.http.gunicorn_support.ThreadWorker"
threads = int(os.environ.get("CDP_THREADS", "4"))

# No access log: a request line can carry a looked-up identifier in its query string
# (GET /v1/customers?identifier_type=phone&value=...), and logs hold no personal data.
accesslog = None

# A worker that is stopped (SIGTERM to the master, or Ctrl-C) finishes the requests it holds
# for up to this long; their transactions either commit or roll back, never half.
graceful_timeout = 20

# gunicorn's own error log and parser errors (a request it cannot parse never reaches the
# app): the log keeps the kind of error without any of the request line (which may hold a
# looked-up phone number), and the client gets the API's JSON error body instead of an
# HTML page quoting its request. See cdp/http/gunicorn_support.py.
logger_class = "cdp.http.gunicorn_support.RedactingLogger"


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    from cdp.http.gunicorn_support import install_json_parser_errors

    install_json_parser_errors()
