"""JSON error bodies ``{"error": {"code", "message"}}`` for every failure."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from cdp.errors import CdpError

log = logging.getLogger("cdp.http")


# What a 503 asks the client to wait before trying again (seconds).
RETRY_AFTER_SECONDS = 1


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is the database connection going away under a statement."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def database_unavailable(exc: BaseException) -> bool:
    """A lost connection, or the database refusing work for now (an operational error:
    server shutting down, too many connections, a lock timeout): the client should retry."""
    return connection_lost(exc) or isinstance(exc, OperationalError)


def init_app(app: Flask) -> None:
    """Map the platform's errors, HTTP errors and anything unexpected to JSON bodies."""

    @app.errorhandler(CdpError)
    def _cdp_error(exc: CdpError) -> Any:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        code = (exc.name or "error").lower().replace(" ", "_")
        response, status = error_response(exc.code or 400, code, exc.description or exc.name)
        # The exception's own headers (a 405's Allow, RFC 9110), not its HTML content type.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> Any:
        if not database_unavailable(exc):
            return _unexpected(exc)
        # Only the type: a driver message can quote statement values.
        log.warning("database unavailable (%s) on %s %s", type(exc.orig).__name__,
                    request.method, request.url_rule)
        response, status = error_response(
            503, "database_unavailable", "the database is unavailable for a moment; retry"
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        # Only the type: exception messages can carry values from the request.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url_rule)
        return error_response(500, "internal", "internal error; the request id identifies it")
