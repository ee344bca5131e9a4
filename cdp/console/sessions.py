"""Server-side console sessions: the cookie carries a random token, the database its hash.

A session is revocable (a row update), rotated at sign-in, after the second factor and at
re-authentication (a new token, the old one dead at once), and ends after
``idle`` without use or ``absolute`` after sign-in (policies/console.toml).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.console.models import ConsoleSession, ConsoleUser
from cdp.console.settings import ConsolePolicy
from cdp.db import utcnow

# Stages a session goes through: password checked -> (second factor) -> active.
STAGE_MFA = "mfa"
STAGE_MFA_SETUP = "mfa_setup"
STAGE_ACTIVE = "active"
# last_seen_at is written at most this often: every page view need not be a write.
TOUCH_EVERY_SECONDS = 30


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Live:
    """A session found for a cookie, with its user."""

    row: ConsoleSession
    user: ConsoleUser


def start(
    session: Session, user: ConsoleUser, policy: ConsolePolicy, *, stage: str,
    user_agent: str | None = None, language: str | None = None,
) -> tuple[str, ConsoleSession]:
    """A new session for ``user``; returns (cookie token, row). Flushes."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = ConsoleSession(
        id=token_hash(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
        stage=stage,
        csrf_token=secrets.token_urlsafe(32),
        language=language,
        user_agent=(user_agent or "")[:200] or None,
    )
    session.add(row)
    session.flush()
    return token, row


def rotate(session: Session, old: ConsoleSession) -> tuple[str, ConsoleSession]:
    """Move ``old`` to a new token and CSRF token (same user, purpose, lifetime); the old
    token stops working. Flushes."""
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        id=token_hash(token),
        user_id=old.user_id,
        created_at=old.created_at,
        last_seen_at=utcnow(),
        expires_at=old.expires_at,
        stage=old.stage,
        csrf_token=secrets.token_urlsafe(32),
        purpose=old.purpose,
        language=old.language,
        reauth_at=old.reauth_at,
        user_agent=old.user_agent,
    )
    old.revoked_at = utcnow()
    old.revoked_reason = "rotated"
    session.add(row)
    session.flush()
    return token, row


def find(session: Session, token: str | None, policy: ConsolePolicy) -> tuple[Live | None, str]:
    """The live session of ``token`` and "ok", or None and why not ("none", "revoked",
    "idle", "expired", "disabled"). An idle or expired session is ended here."""
    if not token or len(token) > 128:
        return None, "none"
    row = session.get(ConsoleSession, token_hash(token))
    if row is None:
        return None, "none"
    if row.revoked_at is not None:
        return None, "revoked"
    now = utcnow()
    why = None
    if now >= row.expires_at:
        why = "expired"
    elif now - row.last_seen_at >= policy.idle:
        why = "idle"
    user = session.get(ConsoleUser, row.user_id)
    if why is None and (user is None or user.disabled_at is not None):
        why = "disabled"
    if why is not None:
        row.revoked_at, row.revoked_reason = now, why
        return None, why
    if (now - row.last_seen_at).total_seconds() >= TOUCH_EVERY_SECONDS:
        row.last_seen_at = now
    if user is None:  # a session without its user was revoked as "disabled" above
        raise RuntimeError("console session check reached a session without a user")
    return Live(row, user), "ok"


def end(row: ConsoleSession, reason: str) -> None:
    row.revoked_at = utcnow()
    row.revoked_reason = reason


def csrf_ok(row: ConsoleSession, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(row.csrf_token, presented or "")


def active_sessions(session: Session) -> list[tuple[ConsoleSession, ConsoleUser]]:
    """Sessions not revoked and not past their absolute end, newest first."""
    now = utcnow()
    rows = session.execute(
        select(ConsoleSession, ConsoleUser)
        .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
        .where(ConsoleSession.revoked_at.is_(None), ConsoleSession.expires_at > now)
        .order_by(ConsoleSession.last_seen_at.desc())
    )
    return [(s, u) for s, u in rows]


def reauth_fresh(row: ConsoleSession, policy: ConsolePolicy, now: datetime | None = None) -> bool:
    return row.reauth_at is not None and (now or utcnow()) - row.reauth_at < policy.reauth
