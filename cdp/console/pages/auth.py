"""Sign in, second factor, purpose of use, language, sign out."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from cdp.audit.models import AuditEvent
from cdp.console import accounts, sessions
from cdp.console.context import (
    COOKIE,
    COOKIE_PATH,
    PRE_COOKIE,
    audit,
    bp,
    cookie_secure,
    cpolicy,
    live,
    set_session_cookie,
    stateable_purposes,
)
from cdp.console.i18n import LANG_COOKIE, LANGUAGES
from cdp.db import utcnow
from cdp.http import current_platform, db_session

END_MESSAGES = {
    "idle": _l("You were signed out after a period of inactivity."),
    "expired": _l("Your session reached its maximum length. Sign in again."),
    "revoked": _l("Your session was ended. Sign in again."),
    "disabled": _l("Your session was ended. Sign in again."),
    "signed_out": _l("You are signed out."),
}


# Failed sign-ins to one account within FAILURE_WINDOW before it is refused outright.
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)


def recent_failures(name: str) -> int:
    """Refused sign-ins to account ``name`` in the last FAILURE_WINDOW (from the audit log,
    so every worker sees the same count)."""
    return int(db_session().scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "console.sign_in", AuditEvent.decision == "deny",
            AuditEvent.actor == f"user:{name[:64]}", AuditEvent.at >= utcnow() - FAILURE_WINDOW,
        )
    ) or 0)


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect."""
    if target and target.startswith("/console/") and "//" not in target and "\\" not in target:
        return target
    return url_for("console.home")


def _login_page(status: int = 200, error: str | None = None) -> Any:
    token = secrets.token_urlsafe(32)
    why = request.args.get("why")
    body = render_template(
        "console/login.html",
        pre_csrf=token,
        error=error,
        notice=END_MESSAGES.get(why or ""),
        oidc_enabled=_oidc_enabled(),
    )
    resp = make_response(body, status)
    resp.set_cookie(PRE_COOKIE, token, path=COOKIE_PATH, httponly=True, samesite="Strict",
                    secure=cookie_secure(), max_age=3600)
    return resp


def _oidc_enabled() -> bool:
    from cdp.console.settings import oidc_settings

    return oidc_settings() is not None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        if g.get("console") is not None:
            return redirect(url_for("console.home"))
        return _login_page()
    name = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    session = db_session()
    if accounts.user_exists(session, name) and recent_failures(name) >= MAX_FAILURES:
        # Password guessing against one account: refused without checking, for a while.
        audit("console.sign_in", decision="deny", actor=f"user:{name}",
              detail={"reason": "throttled"})
        return _login_page(429, _("Too many failed sign-ins. Try again in a few minutes."))
    result = accounts.check_credentials(session, name, password)
    if result.user is None:
        # Who tried is on record by account name only when the account exists.
        known = accounts.user_exists(session, name)
        audit("console.sign_in", decision="deny",
              actor=f"user:{name}" if known else "anonymous",
              detail={"reason": result.reason})
        return _login_page(401, _("Invalid username or password."))
    return begin_session(result.user, method="password")


def begin_session(user: accounts.ConsoleUser, *, method: str) -> Any:
    """Sign ``user`` in: any session this browser had ends, a new one (new token) starts."""
    session = db_session()
    old = g.get("console")
    if old is not None:
        sessions.end(old.row, "replaced")
    policy = cpolicy()
    stage = sessions.STAGE_ACTIVE
    if policy.needs_mfa(user.role) and method == "password":
        stage = sessions.STAGE_MFA if user.totp_confirmed else sessions.STAGE_MFA_SETUP
    token, row = sessions.start(
        session, user, policy, stage=stage, user_agent=request.headers.get("User-Agent"),
        language=request.cookies.get(LANG_COOKIE) if request.cookies.get(LANG_COOKIE) in LANGUAGES else None,
    )
    g.console = sessions.Live(row, user)
    audit("console.sign_in", detail={"method": method, "stage": stage})
    if stage == sessions.STAGE_ACTIVE:
        user.last_sign_in_at = utcnow()
    resp = redirect(url_for("console.mfa") if stage != sessions.STAGE_ACTIVE
                    else _safe_next(request.args.get("next")))
    set_session_cookie(resp, token)
    resp.delete_cookie(PRE_COOKIE, path=COOKIE_PATH)
    return resp


@bp.route("/mfa", methods=["GET", "POST"])
def mfa() -> Any:
    lv = live()
    keyring = current_platform().keyring
    if lv.row.stage == sessions.STAGE_ACTIVE:
        return redirect(url_for("console.home"))
    setup = lv.row.stage == sessions.STAGE_MFA_SETUP
    error = None
    if request.method == "POST":
        if accounts.check_totp(keyring, lv.user, request.form.get("code", "")):
            if setup:
                lv.user.totp_confirmed = True
            lv.row.stage = sessions.STAGE_ACTIVE
            lv.user.last_sign_in_at = utcnow()
            # A new token once fully signed in: whatever saw the half-way cookie has nothing.
            token, row = sessions.rotate(db_session(), lv.row)
            g.console = sessions.Live(row, lv.user)
            audit("console.mfa", detail={"enrolled": setup})
            g.console_new_token = token
            return redirect(url_for("console.home"))
        audit("console.mfa", decision="deny", detail={"reason": "bad_code"})
        error = _("That code is not valid. Try the current one.")
    secret = uri = None
    if setup:
        secret = accounts.totp_secret(keyring, lv.user)
        if secret is None or request.method == "GET":
            secret = accounts.start_totp_enrolment(db_session(), keyring, lv.user)
        uri = accounts.provisioning_uri(secret, lv.user)
    status = 401 if error else 200
    if error and setup:
        status = 200  # the new secret written above must be kept (a 4xx rolls back)
    return render_template("console/mfa.html", setup=setup, secret=secret, uri=uri,
                           error=error), status


@bp.route("/purpose", methods=["GET", "POST"])
def purpose() -> Any:
    lv = live()
    choices = stateable_purposes(lv.user.role)
    error = None
    if request.method == "POST":
        chosen = request.form.get("purpose", "")
        if chosen in choices:
            previous = lv.row.purpose
            lv.row.purpose = chosen
            audit("console.purpose", purpose=chosen, detail={"previous": previous})
            return redirect(_safe_next(request.args.get("next")))
        error = _("Choose one of the purposes offered.")
    return render_template("console/purpose.html", choices=choices, error=error,
                           next=request.args.get("next", "")), (422 if error else 200)


@bp.post("/language")
def set_language() -> Any:
    chosen = request.form.get("language", "")
    target = _safe_next(request.form.get("next"))
    resp = redirect(target)
    if chosen in LANGUAGES:
        lv = g.get("console")
        if lv is not None:
            lv.row.language = chosen
        resp.set_cookie(LANG_COOKIE, chosen, path=COOKIE_PATH, httponly=True,
                        samesite="Strict", secure=cookie_secure(), max_age=365 * 86400)
    return resp


@bp.post("/logout")
def logout() -> Any:
    lv = live()
    sessions.end(lv.row, "signed_out")
    audit("console.sign_out")
    resp = redirect(url_for("console.login", why="signed_out"))
    resp.delete_cookie(COOKIE, path=COOKIE_PATH)
    # Clear-Site-Data wipes anything the browser kept of the signed-in pages.
    resp.headers["Clear-Site-Data"] = '"cache", "storage"'
    return resp
