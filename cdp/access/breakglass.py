"""Break-glass: plain access to one customer, with a written reason, for a limited time.

A reason is free text written in a hurry ("customer 张伟 called from 138..."): it is stored
redacted by the PII engine (what the audit entry and the compliance report show), and as
written only encrypted under the customer's data key, so it is unreadable at rest and goes
with the customer's other data when they are erased."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.access.models import BreakGlassGrant
from cdp.audit.models import AuditEvent
from cdp.audit.queries import READ_ACTIONS
from cdp.crypto import fields
from cdp.db import new_id, utcnow
from cdp.errors import Forbidden, ValidationError
from cdp.policyfiles import PolicyFiles

MIN_REASON = 15
MAX_REASON = 1000
MAX_MINUTES = 240


def grant(
    session: Session,
    *,
    api_key_id: int | None,
    actor: str,
    role: str,
    purpose: str,
    customer_id: str,
    reason: str,
    minutes: int,
    request_id: str | None,
    data_key: tuple[str, bytes] | None = None,
    console_user_id: int | None = None,
    policies: PolicyFiles | None = None,
) -> BreakGlassGrant:
    """Record a grant (flushes) with its reason redacted; the reason as written is kept only
    encrypted under ``data_key`` (the customer's (key id, key)), or not at all without one.
    The caller audits it as ``customers.break_glass`` with ``row.reason`` (redacted)."""
    from cdp.pii.redact import redact_text

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
    gid = new_id()
    reason_ct = None
    if data_key is not None:
        reason_ct = fields.encrypt(data_key[1], reason.encode(),
                                   fields.field_aad("break_glass_grants", "reason_ct", gid))
    row = BreakGlassGrant(
        id=gid,
        api_key_id=api_key_id,
        console_user_id=console_user_id,
        actor=actor,
        role=role,
        purpose=purpose,
        customer_id=customer_id,
        reason=redact_text(reason, "storage", policies=policies).text,
        reason_ct=reason_ct,
        data_key_id=data_key[0] if data_key is not None else None,
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
        request_id=request_id,
    )
    session.add(row)
    session.flush()
    return row


def check(
    session: Session,
    grant_id: str,
    *,
    api_key_id: int | None,
    customer_id: str,
    purpose: str | None,
    console_user_id: int | None = None,
) -> BreakGlassGrant:
    """The live grant ``grant_id`` of this key (or console user) for this customer and the
    purpose it was opened for; Forbidden otherwise (a grant given for customer support does
    not serve a data subject request or any other purpose)."""
    row = session.get(BreakGlassGrant, grant_id) if grant_id and len(grant_id) <= 32 else None
    if (
        row is None
        or row.api_key_id != api_key_id
        or row.console_user_id != console_user_id
        or row.customer_id != customer_id
        or row.purpose != (purpose or "")
    ):
        raise Forbidden(
            "no break-glass grant with that id for this key, customer and purpose",
            code="break_glass_invalid",
        )
    if row.expires_at <= utcnow():
        raise Forbidden(
            "the break-glass grant has expired; request a new one with a reason",
            code="break_glass_expired",
        )
    return row


def original_reason(row: BreakGlassGrant, dek: bytes) -> str:
    """The reason as written (DecryptionError when the customer's key is gone)."""
    if row.reason_ct is None:
        return row.reason
    aad = fields.field_aad("break_glass_grants", "reason_ct", row.id)
    return fields.decrypt(dek, row.reason_ct, aad).decode()


def break_glass_report(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every break-glass grant in the period, with its reason and the reads made under it."""
    q = select(BreakGlassGrant)
    if since:
        q = q.where(BreakGlassGrant.created_at >= since)
    if until:
        q = q.where(BreakGlassGrant.created_at < until)
    grants = list(session.scalars(q.order_by(BreakGlassGrant.created_at)))
    uses: dict[str, int] = defaultdict(int)
    if grants:
        first = grants[0].created_at
        for (detail,) in session.execute(
            select(AuditEvent.detail).where(
                AuditEvent.action.in_(READ_ACTIONS),
                AuditEvent.decision == "allow",
                AuditEvent.at >= first,
            )
        ):
            gid = (detail or {}).get("break_glass")
            if gid:
                uses[gid] += 1
    return [
        {
            "grant_id": g.id,
            "actor": g.actor,
            "role": g.role,
            "purpose": g.purpose,
            "customer_id": g.customer_id,
            "reason": g.reason,
            "created_at": g.created_at.isoformat(),
            "expires_at": g.expires_at.isoformat(),
            "reads": uses.get(g.id, 0),
        }
        for g in grants
    ]
