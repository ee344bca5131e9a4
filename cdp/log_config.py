"""Logging setup. Log lines carry ids, counts and types, never personal values."""

from __future__ import annotations

import logging
import os
import re

_QUERY = re.compile(r"\?[^\s\x1b\"]*")


class DropQueryStrings(logging.Filter):
    """Werkzeug's access log prints the request line, query string included, and lookups
    carry identifiers there (``/v1/customers?identifier_type=phone&value=...``): keep the
    path, drop the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_QUERY.sub("", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _QUERY.sub("", record.msg)
        return True


def configure_logging(level: str | None = None) -> None:
    level = level or os.environ.get("CDP_LOG_LEVEL", "INFO")
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    # Third-party loggers that echo payloads at DEBUG stay quiet.
    for noisy in ("presidio-analyzer", "presidio-anonymizer", "jieba", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropQueryStrings) for f in werkzeug.filters):
        werkzeug.addFilter(DropQueryStrings())

