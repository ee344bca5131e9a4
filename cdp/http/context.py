"""What a request handler reaches through Flask's context: the platform, the request's
database session and the request's id."""

from __future__ import annotations

import re
import uuid

from flask import current_app, g, request
from sqlalchemy.orm import Session

from cdp.platform import Platform


def current_platform() -> Platform:
    platform: Platform = current_app.extensions["cdp"]
    return platform


def db_session() -> Session:
    """The request's session. The request owns the transaction: committed after the view."""
    if "cdp_session" not in g:
        new = current_platform().Session()
        for hook in current_app.extensions.get("cdp_session_hooks", ()):
            hook(new)
        g.cdp_session = new
    session: Session = g.cdp_session
    return session


CORRELATION_HEADER = "X-Correlation-Id"
CORRELATION_MAX = 64
# Letters, digits and a few separators: what tracing systems use; nothing that could carry
# free text (a name, a phone with spaces) into the audit log.
_CORRELATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


def request_id() -> str:
    """The id of this request: generated here, never taken from the client (an id a client
    chooses could collide with, or impersonate, another request in the audit log).
    Returned in ``X-Request-Id`` and kept in the audit log's ``request_id``."""
    if "request_id" not in g:
        g.request_id = uuid.uuid4().hex
    rid: str = g.request_id
    return rid


def customer_arg() -> str | None:
    """The ``customer_id`` of the request's URL when it can be one (at most 32 characters),
    for audit entries; None otherwise."""
    value = (request.view_args or {}).get("customer_id")
    return value if isinstance(value, str) and len(value) <= 32 else None


def correlation_id() -> str | None:
    """The client's own id for this request (``X-Correlation-Id``, or ``X-Request-Id`` as
    clients used to send it), when it is at most 64 characters of letters, digits and
    ``.:_-``; otherwise None. Kept apart from the request id: in the audit entry's
    ``detail.correlation_id``, and echoed in the response."""
    if "correlation_id" not in g:
        presented = request.headers.get(CORRELATION_HEADER) or request.headers.get(
            "X-Request-Id", ""
        )
        presented = presented.strip()
        ok = len(presented) <= CORRELATION_MAX and _CORRELATION.fullmatch(presented)
        g.correlation_id = presented if ok else None
    cid: str | None = g.correlation_id
    return cid
