"""What a request handler reaches through Flask's context: the platform, the request's
database session and the request's id."""

from __future__ import annotations

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


def request_id() -> str:
    """The id of this request (returned in ``X-Request-Id``, kept in the audit log)."""
    if "request_id" not in g:
        presented = request.headers.get("X-Request-Id", "")
        ok = presented and len(presented) <= 64 and presented.replace("-", "").isalnum()
        g.request_id = presented if ok else uuid.uuid4().hex
    rid: str = g.request_id
    return rid
