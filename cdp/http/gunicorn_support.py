"""gunicorn's own error log and error pages, made to keep the platform's rules.

gunicorn answers requests it cannot parse itself, before the app sees them: it logs
``Invalid request from ip=...: Invalid HTTP Version: '7897 2577 HTTP/1.1'`` (a fragment of
the request line, which may be a looked-up phone number) and answers with an HTML page that
echoes the same fragment. ``RedactingLogger`` (``logger_class`` in gunicorn.conf.py) keeps
the kind of error and drops the request's content from every gunicorn log line;
``install_json_parser_errors`` (called in each worker after fork) makes those answers the
API's JSON error body, with a message that carries nothing from the request.
"""

from __future__ import annotations

import json
import re
import signal
from typing import Any

from gunicorn import util
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker as _GThreadWorker

# "Invalid request from ip=1.2.3.4: <whatever the parser objected to>" (gunicorn 22-23).
_INVALID_REQUEST = re.compile(r"^(Invalid request from ip=[^:\s]*(?::\d+)?):.*$", re.DOTALL)
# What a log line may quote of a request: a quoted fragment, a query string.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_QUERY = re.compile(r"\?[^\s'\"]*")


def redact_line(message: str) -> str:
    """``message`` without any part of the request it may quote (the kind of error stays)."""
    m = _INVALID_REQUEST.match(message)
    if m:
        return f"{m.group(1)}: unparseable request (content not logged)"
    return _QUERY.sub("?[query redacted]", _QUOTED.sub("'[redacted]'", message))


class RedactingLogger(Logger):
    """gunicorn's logger, every error-log message passed through ``redact_line`` first."""

    def _redacted(self, msg: Any, args: tuple[Any, ...]) -> str:
        text = str(msg)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = f"{text} (arguments not logged)"
        return redact_line(text)

    def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().critical(self._redacted(msg, args), **kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().error(self._redacted(msg, args), **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().warning(self._redacted(msg, args), **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().info(self._redacted(msg, args), **kwargs)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().debug(self._redacted(msg, args), **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        # The traceback of a request error can quote the request too: type and place only.
        kwargs.pop("exc_info", None)
        import sys

        exc = sys.exc_info()[1]
        suffix = f" ({type(exc).__name__})" if exc is not None else ""
        super().error(self._redacted(msg, args) + suffix, **kwargs)

    def log(self, lvl: Any, msg: Any, *args: Any, **kwargs: Any) -> None:
        super().log(lvl, self._redacted(msg, args), **kwargs)


_MESSAGES = {
    400: "the request could not be parsed as HTTP",
    403: "the request was refused",
    431: "the request's headers are too large",
    500: "the server could not handle the request",
    501: "the request's transfer coding is not supported",
}


def json_error_bytes(status_int: int, reason: str) -> bytes:
    """A complete HTTP response with the API's error body (nothing from the request)."""
    code = re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_") or "bad_request"
    body = json.dumps(
        {"error": {"code": code, "message": _MESSAGES.get(status_int, reason.lower())}}
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin1") + body


def _write_json_error(sock: Any, status_int: int, reason: str, _mesg: str) -> None:
    util.write_nonblock(sock, json_error_bytes(status_int, reason))


def install_json_parser_errors() -> None:
    """Make gunicorn answer what it cannot parse with the API's JSON error body.

    gunicorn has no setting for its error page: its workers call ``gunicorn.util.
    write_error``, which is replaced here (in the worker process, after fork).
    """
    util.write_error = _write_json_error


class ThreadWorker(_GThreadWorker):
    """gunicorn's gthread worker that ignores SIGINT for its whole life.

    Ctrl-C in a terminal reaches every process of the foreground group. gunicorn's worker
    would quit at once from inside its signal handler, even while it is still loading the
    app, which can leave a half-finished finaliser's traceback in the log. The arbiter
    gets the same signal and stops the workers itself (gracefully, under ``cdp serve``).
    """

    def init_signals(self) -> None:
        super().init_signals()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
