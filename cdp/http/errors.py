"""JSON error bodies ``{"error": {"code", "message"}}`` for every failure."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from cdp.errors import CdpError

log = logging.getLogger("cdp.http")


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def init_app(app: Flask) -> None:
    """Map the platform's errors, HTTP errors and anything unexpected to JSON bodies."""

    @app.errorhandler(CdpError)
    def _cdp_error(exc: CdpError) -> Any:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 400, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        # Only the type: exception messages can carry values from the request.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url_rule)
        return error_response(500, "internal", "internal error; the request id identifies it")
