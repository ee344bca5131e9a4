"""Flask glue: one session per request, committed at the end; JSON errors; request ids."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import orjson
from flask import Flask, Response, current_app, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from cdp.audit.log import COLLECT_KEY, record
from cdp.errors import CdpError
from cdp.platform import Platform

log = logging.getLogger("cdp.web")


def current_platform() -> Platform:
    return current_app.extensions["cdp"]


def db_session() -> Session:
    """The request's session. The request owns the transaction: committed after the view."""
    if "cdp_session" not in g:
        session = current_platform().Session()
        session.info[COLLECT_KEY] = []  # audit entries of this request (see _commit)
        g.cdp_session = session
    return g.cdp_session


def request_id() -> str:
    if "request_id" not in g:
        presented = request.headers.get("X-Request-Id", "")
        ok = presented and len(presented) <= 64 and presented.replace("-", "").isalnum()
        g.request_id = presented if ok else uuid.uuid4().hex
    return g.request_id


# The cyclic collector's first threshold for a serving process (CPython's default: 700).
# Every request leaves a few dozen objects in reference cycles (the request's session and
# connection wrappers, werkzeug's request) and, with 700, a young collection runs every few
# requests and promotes whatever the threads in flight hold; those promotions trigger a
# full collection every few seconds, which holds the GIL for 20-30 ms of CPU (all threads
# of the worker stall; 100-250 ms of wall time when the cores are shared) and puts a cluster
# of requests into the p99. With 10,000 the young collections are 15-20 times rarer (a few
# ms each), and full ones rare; the collector's total CPU time halves (read bench, gunicorn
# 2 x 8 threads: 0.45-0.55 s against 0.8-0.95 s per 40 s of load).
SERVING_GC_THRESHOLD = (10_000, 10, 10)


def prepare_gc_for_serving() -> None:
    """Call once the app is built (wsgi.py): freeze what start-up loaded (it lives as long
    as the worker, so no collection should walk it again) and raise the young threshold."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLD)


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


# Larger bodies are refused with 413 before they are read: a full batch of records
# (CONTRACT §3, at most 1,000) fits well inside; a runaway upload does not tie up a worker.
MAX_BODY_BYTES = 4 * 1024 * 1024


# orjson for response bodies: what it cannot encode the way Flask does (datetime as an HTTP
# date, Decimal, integers past 64 bits, subclasses of str or dict) goes to Flask's encoder.
_ORJSON_OPTS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
)


class _JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with two changes.

    - Nesting too deep to parse is bad input (a ValueError, so ``get_json`` treats it as
      malformed JSON: 4xx), not a RecursionError (500).
    - Compact response bodies are encoded by orjson: the same JSON as Flask's encoder with
      ``ensure_ascii`` and ``sort_keys`` off, in a tenth of the time (the encoding was ~6 %
      of a customer read's CPU). Anything else (sorted keys, ASCII-only output, indented
      debug output) goes through Flask's encoder as before.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

    def response(self, *args: Any, **kwargs: Any) -> Response:
        compact = not ((self.compact is None and self._app.debug) or self.compact is False)
        if not compact or self.sort_keys or self.ensure_ascii:
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        try:
            body = orjson.dumps(obj, default=self.default, option=_ORJSON_OPTS)
        except orjson.JSONEncodeError:
            # e.g. an integer past 64 bits, or a default() raising: Flask's encoder decides.
            return super().response(*args, **kwargs)
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)


def init_app(app: Flask) -> None:
    app.config.setdefault("MAX_CONTENT_LENGTH", MAX_BODY_BYTES)
    if app.config["MAX_CONTENT_LENGTH"] is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    provider = _JSONProvider(app)
    provider.ensure_ascii = app.json.ensure_ascii  # type: ignore[attr-defined]
    provider.sort_keys = app.json.sort_keys  # type: ignore[attr-defined]
    app.json = provider

    @app.before_request
    def _assign_request_id() -> None:
        request_id()

    @app.after_request
    def _commit(response: Response) -> Response:
        session: Session | None = g.pop("cdp_session", None)
        if session is not None:
            try:
                if response.status_code < 400:
                    session.commit()
                elif response.status_code < 500:
                    # A refused request changes nothing: whatever its handler wrote before
                    # refusing is rolled back. Denied attempts stay on record: the audit
                    # entries of its refusals (every decision but "allow") are appended again
                    # on their own and committed.
                    refused = [e for e in session.info.get(COLLECT_KEY, ())
                               if e.decision != "allow"]
                    session.rollback()
                    if refused:
                        record(session, *refused)
                        session.commit()
                else:
                    session.rollback()
            except Exception as exc:  # commit failed: the act did not happen
                session.rollback()
                log.error("commit failed: %s", type(exc).__name__)
                response, status = error_response(503, "commit_failed", "the change could not be saved; retry")
                response.status_code = status
            finally:
                session.close()
        response.headers["X-Request-Id"] = request_id()
        return response

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("cdp_session", None)
        if session is not None:
            session.rollback()
            session.close()

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
