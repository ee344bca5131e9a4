"""What console pages share: the blueprint, the signed-in person and their session, the
access decision (the access guard's ``authorize``), auditing, and the cookie and CSRF
helpers. The request hooks that use them are in ``cdp.console.web``."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from cdp.access.guard import AccessContext, Principal, authorize, current_policy
from cdp.audit.log import AuditEntry, record
from cdp.console import sessions
from cdp.console.settings import ConsolePolicy, console_policy
from cdp.errors import Forbidden
from cdp.http import current_platform, db_session, request_id

bp = Blueprint(
    "console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

COOKIE = "cdp_console"
PRE_COOKIE = "cdp_console_pre"  # CSRF token of the sign-in form, before any session exists
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Endpoints reachable without a session.
PUBLIC = {"console.login", "console.static", "console.oidc_login", "console.oidc_callback",
          "console.set_language"}
# Endpoints reachable with a session that still owes its second factor.
HALFWAY = {"console.mfa", "console.logout", "console.set_language"}
# Endpoints reachable before a purpose of use is stated.
NO_PURPOSE = HALFWAY | {"console.purpose"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def cookie_secure() -> bool:
    """Secure cookies everywhere but the local demo (CDP_CONSOLE_INSECURE_COOKIE=1, or the
    test config ``console_cookie_secure=False``): browsers refuse Secure cookies over http."""
    cfg = current_platform().config
    if "console_cookie_secure" in cfg.extra:
        return bool(cfg.extra["console_cookie_secure"])
    return os.environ.get("CDP_CONSOLE_INSECURE_COOKIE", "0") not in ("1", "true", "yes")


def cpolicy() -> ConsolePolicy:
    return console_policy(current_platform().policies)


def live() -> sessions.Live:
    value = g.get("console")
    if value is None:
        raise Forbidden("sign in first", code="not_signed_in")
    return value


def principal() -> Principal:
    user = live().user
    return Principal(key_id=None, key_prefix="", role=user.role, user_id=user.id,
                     user_name=user.name)


def stateable_purposes(role: str) -> list[str]:
    """The purposes ``role`` may state for anything (policy.csv), in declaration order."""
    policy = current_policy()
    mine = {p for r, _res, _a, p in policy.rules if r == role and p != "*"}
    return [p for p in policy.purposes if p in mine]


def access(resource: str, action: str, *, purpose: str = "required") -> AccessContext:
    """The access guard's decision for the signed-in person and the session's purpose of use:
    the same rules, refusals and audit entries as an API call with a key of the same role."""
    return authorize(principal(), live().row.purpose, resource, action, purpose=purpose)


def audit(action: str, *, decision: str = "allow", **kw: Any) -> None:
    """A console event (sign-in, purpose change, revocation) in the request's transaction."""
    g_live = g.get("console")
    actor = kw.pop("actor", None) or (g_live.user.actor if g_live else "anonymous")
    role = kw.pop("role", None) or (g_live.user.role if g_live else None)
    purpose = kw.pop("purpose", None) or (g_live.row.purpose if g_live else None)
    record(db_session(), AuditEntry(actor=actor, role=role, purpose=purpose, action=action,
                                    decision=decision, request_id=request_id(), **kw))


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def to_login(reason: str | None = None) -> BaseResponse:
    target = url_for("console.login", why=reason) if reason else url_for("console.login")
    resp: BaseResponse
    if is_htmx():
        # htmx follows HX-Redirect with a full page load (a 302 would be swapped in).
        resp = Response("", status=401)
        resp.headers["HX-Redirect"] = target
    else:
        resp = redirect(target)
    resp.delete_cookie(COOKIE, path=COOKIE_PATH)
    return resp


def set_session_cookie(resp: BaseResponse, token: str) -> None:
    resp.set_cookie(COOKIE, token, path=COOKIE_PATH, httponly=True, samesite="Strict",
                    secure=cookie_secure(), max_age=int(cpolicy().absolute.total_seconds()))


def same_origin() -> bool:
    """Unsafe requests must come from this origin (defence in depth beside the token)."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    here = urlsplit(request.host_url)
    there = urlsplit(origin)
    return (there.scheme, there.netloc) == (here.scheme, here.netloc)


def csrf_refused() -> Response:
    audit("console.csrf", decision="deny", detail={"endpoint": request.endpoint or ""})
    body = render_template("console/error.html", status=400, code="csrf",
                           message="The form was stale or did not come from this console. "
                                   "Reload the page and try again.")
    return Response(body, status=400)


