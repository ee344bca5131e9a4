"""Break-glass: plain access to one customer, with a written reason, for a limited time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from cdp.access.models import BreakGlassGrant
from cdp.db import utcnow
from cdp.errors import Forbidden, ValidationError

MIN_REASON = 15
MAX_REASON = 1000
MAX_MINUTES = 240


def grant(
    session: Session,
    *,
    api_key_id: int,
    actor: str,
    role: str,
    purpose: str,
    customer_id: str,
    reason: str,
    minutes: int,
    request_id: str | None,
) -> BreakGlassGrant:
    """Record a grant (flushes). The caller audits it as ``customers.break_glass``."""
    reason = (reason or "").strip()
    if not (MIN_REASON <= len(reason) <= MAX_REASON):
        raise ValidationError(
            f"break-glass needs a written reason of {MIN_REASON} to {MAX_REASON} characters",
            code="reason_required",
        )
    if not (1 <= minutes <= MAX_MINUTES):
        raise ValidationError(
            f"minutes must be between 1 and {MAX_MINUTES}", code="invalid_minutes"
        )
    now = utcnow()
    row = BreakGlassGrant(
        api_key_id=api_key_id,
        actor=actor,
        role=role,
        purpose=purpose,
        customer_id=customer_id,
        reason=reason,
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
        request_id=request_id,
    )
    session.add(row)
    session.flush()
    return row


def check(session: Session, grant_id: str, *, api_key_id: int, customer_id: str) -> BreakGlassGrant:
    """The live grant ``grant_id`` of this key for this customer; Forbidden otherwise."""
    row = session.get(BreakGlassGrant, grant_id) if grant_id and len(grant_id) <= 32 else None
    if row is None or row.api_key_id != api_key_id or row.customer_id != customer_id:
        raise Forbidden(
            "no break-glass grant with that id for this key and customer",
            code="break_glass_invalid",
        )
    if row.expires_at <= utcnow():
        raise Forbidden(
            "the break-glass grant has expired; request a new one with a reason",
            code="break_glass_expired",
        )
    return row
