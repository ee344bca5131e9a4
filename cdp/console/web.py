"""The console blueprint: session loading, CSRF, purpose of use, headers, error pages.

Every page handler runs after ``_before``: the session cookie is resolved to a live
server-side session (or the browser is sent to sign in), unsafe methods carry the session's
CSRF token, and a person who must state a purpose of use has stated one. Handlers decide
access through ``access()`` (the access guard's ``authorize``) and read personal data
through the same service functions as the /v1 API.
"""

from __future__ import annotations

import hmac
import os
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from cdp.access.guard import AccessContext, Principal, authorize, current_policy
from cdp.audit.log import AuditEntry, record
from cdp.console import sessions
from cdp.console.security import apply_headers, nonce
from cdp.console.settings import ConsolePolicy, console_policy
from cdp.db import utcnow
from cdp.errors import CdpError, Forbidden
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
    return console_policy(current_platform().config.policy_dir)


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


def _same_origin() -> bool:
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


@bp.before_request
def _before() -> BaseResponse | None:
    nonce()
    endpoint = request.endpoint or ""
    if endpoint == "console.static":
        return None
    lv, why = sessions.find(db_session(), request.cookies.get(COOKIE), cpolicy())
    g.console = lv
    g.session_end_reason = why
    if endpoint in PUBLIC:
        if request.method in UNSAFE:
            # Before sign-in the token is the sign-in form's own (double-submit cookie).
            sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
            pre = request.cookies.get(PRE_COOKIE, "")
            ok = (lv is not None and sessions.csrf_ok(lv.row, sent)) or (
                bool(pre) and hmac.compare_digest(pre, sent)
            )
            if not ok or not _same_origin():
                return csrf_refused()
        return None
    if lv is None:
        if why in ("idle", "expired", "revoked", "disabled"):
            # The end of a session is on record (committed: a redirect is not a refusal).
            audit("console.session_end", detail={"reason": why})
        return to_login(why if why != "none" else None)
    if request.method in UNSAFE:
        sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
        if not sessions.csrf_ok(lv.row, sent) or not _same_origin():
            return csrf_refused()
    if lv.row.stage != sessions.STAGE_ACTIVE and endpoint not in HALFWAY:
        return redirect(url_for("console.mfa"))
    if (
        lv.row.purpose is None
        and endpoint not in NO_PURPOSE
        and stateable_purposes(lv.user.role)
    ):
        return redirect(url_for("console.purpose", next=request.full_path))
    return None


@bp.after_request
def _after(response: Response) -> Response:
    rotated = g.pop("console_new_token", None)
    if rotated:
        set_session_cookie(response, rotated)
    return apply_headers(response, secure=cookie_secure())


@bp.errorhandler(CdpError)
def _cdp_error(exc: CdpError) -> Any:
    return _error_page(exc.status, exc.code, exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    return _error_page(exc.code or 400, (exc.name or "error").lower().replace(" ", "_"),
                       exc.description or exc.name or "error")


def _error_page(status: int, code: str, message: str) -> Any:
    if is_htmx():
        # A fragment in place of the target: the page around it stays usable.
        return render_template("console/_error_fragment.html", status=status, code=code,
                               message=message), status
    return render_template("console/error.html", status=status, code=code,
                           message=message), status


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    if request.blueprint != "console":
        return {}
    lv = g.get("console")
    return {
        "csp_nonce": nonce(),
        "me": lv.user if lv else None,
        "my_session": lv.row if lv else None,
        "csrf": lv.row.csrf_token if lv else "",
        "purpose_label": lv.row.purpose if lv else None,
    }


def init_app(app: Flask) -> None:
    """Mount the console at /console/ (pages import their routes onto ``bp``)."""
    from cdp.console import i18n
    from cdp.console.oidc import init_oidc  # also adds the OIDC routes
    from cdp.console.pages import admin, analytics, auth, compliance, customers, steward  # noqa: F401

    i18n.init_app(app)
    init_oidc(app)
    app.jinja_env.globals["now_utc"] = utcnow
    app.register_blueprint(bp, url_prefix="/console")

    @app.get("/console")
    def _console_root() -> Any:  # /console without the slash
        return redirect("/console/")

