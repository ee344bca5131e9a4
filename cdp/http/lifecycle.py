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

from flask import Flask, Response, g
from sqlalchemy.orm import Session

from cdp.http.context import CORRELATION_HEADER, correlation_id, request_id
from cdp.http.errors import error_response

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


def init_app(app: Flask) -> None:
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
