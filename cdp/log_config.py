"""Logging setup. Log lines carry ids, counts and types, never personal values."""

from __future__ import annotations

import logging
import os


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
