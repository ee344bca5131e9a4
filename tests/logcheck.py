"""The run-wide log capture and the set of personal values that must never appear in it.

Lives in its own module, always imported as ``tests.logcheck``, so that every test module and
``conftest`` share one instance (pytest imports ``tests/conftest.py`` as the top-level module
``conftest``; importing ``tests.conftest`` elsewhere would create a second, unchecked copy).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable


class _Sink(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = record.getMessage()
            if record.exc_info:
                line += "\n" + logging.Formatter().formatException(record.exc_info)
            self.lines.append(line)
        except Exception:  # pragma: no cover - a broken log call must not hide others
            self.lines.append(repr(record.msg))


LOG_SINK = _Sink()
logging.getLogger().addHandler(LOG_SINK)
logging.getLogger().setLevel(logging.DEBUG)
SENSITIVE: set[str] = set()


def register_sensitive(values: Iterable[str]) -> None:
    """Values that must never appear in any log line of the run (checked at session end)."""
    for v in values:
        if isinstance(v, str) and len(v.strip()) >= 4:
            SENSITIVE.add(v.strip())
