"""Admin: console accounts, active sessions (revocable), policy status."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import render_template
from sqlalchemy import select

from cdp.access.policy import POLICY_FILES, policy_store
from cdp.console import accounts, sessions
from cdp.console.context import access, audit, bp, is_htmx, live
from cdp.console.models import ConsoleSession
from cdp.console.settings import FILE as CONSOLE_FILE
from cdp.errors import Conflict, NotFound
from cdp.http import current_platform, db_session


@bp.get("/admin/users")
def admin_users() -> Any:
    access("console", "manage", purpose="optional")
    return render_template("console/admin_users.html", users=accounts.list_users(db_session()))


@bp.post("/admin/users/<name>/<state>")
def admin_user_state(name: str, state: str) -> Any:
    access("console", "manage", purpose="optional")
    if state not in ("disable", "enable"):
        raise NotFound("no such action")
    if name == live().user.name and state == "disable":
        raise Conflict("you cannot disable your own account here; use `cdp users disable`",
                       code="own_account")
    user = accounts.set_disabled(db_session(), name, state == "disable")
    audit(f"console.user_{state}", detail={"user": user.name})
    template = "console/_user_row.html" if is_htmx() else "console/admin_users.html"
    return render_template(template, u=user, users=accounts.list_users(db_session()))


@bp.get("/admin/sessions")
def admin_sessions() -> Any:
    access("console", "manage", purpose="optional")
    return render_template("console/admin_sessions.html", rows=sessions.active_sessions(db_session()),
                           mine=live().row.id)


@bp.post("/admin/sessions/<sid>/revoke")
def admin_revoke(sid: str) -> Any:
    access("console", "manage", purpose="optional")
    row = db_session().scalar(select(ConsoleSession).where(ConsoleSession.id == sid[:64]))
    if row is None or row.revoked_at is not None:
        raise NotFound("no such live session")
    sessions.end(row, "revoked_by_admin")
    audit("console.session_revoke", detail={"session": sid[:12], "user_id": row.user_id})
    if is_htmx():
        return render_template("console/_revoked.html", sid=sid)
    return render_template("console/admin_sessions.html", rows=sessions.active_sessions(db_session()),
                           mine=live().row.id)


def _stamp(path: Path) -> str | None:
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except FileNotFoundError:
        return None


def _as_time(t: float | None) -> str | None:
    """A policy store timestamp for the page; None when it never happened."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if t else None


@bp.get("/admin/policy")
def admin_policy() -> Any:
    access("console", "manage", purpose="optional")
    policies = current_platform().policies
    policy_dir = str(policies.directory)
    store = policy_store(policies)
    current = store.current()
    files = [(name, _stamp(Path(policy_dir, name))) for name in (*POLICY_FILES, CONSOLE_FILE)]
    return render_template(
        "console/admin_policy.html", files=files, fingerprint=current.fingerprint,
        reloads=store.reloads, loaded_at=_as_time(store.loaded_at),
        refused_at=_as_time(store.refused_at), last_error=store.last_error,
        roles=sorted(current.roles), policy_dir=policy_dir,
    )
