"""One database session per request, committed when the view succeeded.

Capabilities take part through two hooks kept in ``app.extensions``:

- ``cdp_session_hooks``: called with each request's new session (the audit log marks it to
  collect the entries appended through it);
- ``cdp_refusal_keepers``: called with the session of a refused (4xx) request before it is
  rolled back; each may return a function that writes again, after the rollback, what must
  outlive the refusal (the audit log's denied attempts). What they write is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, g, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cdp.http.context import CORRELATION_HEADER, correlation_id, request_id
from cdp.http.errors import RETRY_AFTER_SECONDS, connection_lost, error_response

log = logging.getLogger("cdp.http")

SessionHook = Callable[[Session], None]
RefusalKeeper = Callable[[Session], Callable[[Session], None] | None]


def add_session_hook(app: Flask, hook: SessionHook) -> None:
    app.extensions.setdefault("cdp_session_hooks", []).append(hook)


def add_refusal_keeper(app: Flask, keeper: RefusalKeeper) -> None:
    app.extensions.setdefault("cdp_refusal_keepers", []).append(keeper)


def _finish(app: Flask, session: Session, status: int) -> None:
    if status < 400:
        session.commit()
        return
    if status >= 500:
        session.rollback()
        return
    # A refused request changes nothing: whatever its handler wrote before refusing is
    # rolled back; the keepers write again what must stay on record.
    replays = [r for k in app.extensions.get("cdp_refusal_keepers", ()) if (r := k(session))]
    session.rollback()
    if replays:
        for replay in replays:
            replay(session)
        session.commit()


# Methods whose handlers change nothing: safe to run again after a lost connection.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _discard_session() -> None:
    """Drop the request's session after its connection died (nothing of it was committed)."""
    session: Session | None = g.pop("cdp_session", None)
    if session is None:
        return
    try:
        session.rollback()
    except Exception as exc:  # noqa: BLE001 - the connection is gone; the pool dropped it
        log.debug("rollback after a lost connection: %s", type(exc).__name__)
    finally:
        session.close()


def _retry_reads_on_lost_connection(app: Flask) -> None:
    """A read whose database connection is lost (server restart, failover,
    ``pg_terminate_backend``, an idle timeout) runs once more on a new connection; a second
    loss, or a loss during a write, answers 503 with Retry-After (cdp.http.errors), never 500.
    Only the whole handler is retried, from a new session: its audit entries and decisions
    are made again, nothing of the lost attempt survives (it was never committed)."""
    dispatch = app.dispatch_request

    def dispatch_with_one_retry():  # type: ignore[no-untyped-def]
        try:
            return dispatch()
        except DBAPIError as exc:
            if (
                not connection_lost(exc)
                or request.method not in IDEMPOTENT_METHODS
                or g.get("cdp_retried")
            ):
                raise
            log.warning(
                "database connection lost during %s %s; retrying once on a new connection",
                request.method,
                request.url_rule,
            )
            _discard_session()
            g.cdp_retried = True
            for name in ("access", "principal"):
                g.pop(name, None)
            return dispatch()

    app.dispatch_request = dispatch_with_one_retry  # type: ignore[method-assign]


def init_app(app: Flask) -> None:
    _retry_reads_on_lost_connection(app)

    @app.before_request
    def _assign_request_id() -> None:
        request_id()

    @app.after_request
    def _commit(response: Response) -> Response:
        session: Session | None = g.pop("cdp_session", None)
        if session is not None:
            try:
                _finish(app, session, response.status_code)
            except Exception as exc:  # commit failed: the act did not happen
                session.rollback()
                log.error("commit failed: %s", type(exc).__name__)
                response, status = error_response(
                    503, "commit_failed", "the change could not be saved; retry"
                )
                response.status_code = status
                response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            finally:
                session.close()
        response.headers["X-Request-Id"] = request_id()
        correlation = correlation_id()
        if correlation is not None:
            response.headers[CORRELATION_HEADER] = correlation
        return response

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("cdp_session", None)
        if session is not None:
            session.rollback()
            session.close()
