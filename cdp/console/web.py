"""The console's request hooks: session loading, CSRF, purpose of use, headers, error pages.

Every page handler runs after ``_before``: the session cookie is resolved to a live
server-side session (or the browser is sent to sign in), unsafe methods carry the session's
CSRF token, and a person who must state a purpose of use has stated one. Handlers decide
access through ``access()`` (``cdp.console.context``) and read personal data through the
same service functions as the /v1 API.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Flask, Response, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from cdp.console import sessions
from cdp.console.context import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    HALFWAY,
    NO_PURPOSE,
    PRE_COOKIE,
    PUBLIC,
    UNSAFE,
    audit,
    bp,
    cookie_secure,
    cpolicy,
    csrf_refused,
    is_htmx,
    same_origin,
    set_session_cookie,
    stateable_purposes,
    to_login,
)
from cdp.console.security import apply_headers, nonce
from cdp.db import utcnow
from cdp.errors import CdpError
from cdp.http import db_session


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
            if not ok or not same_origin():
                return csrf_refused()
        return None
    if lv is None:
        if why in ("idle", "expired", "revoked", "disabled"):
            # The end of a session is on record (committed: a redirect is not a refusal).
            audit("console.session_end", detail={"reason": why})
        return to_login(why if why != "none" else None)
    if request.method in UNSAFE:
        sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
        if not sessions.csrf_ok(lv.row, sent) or not same_origin():
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

