"""Reading the unified view for a caller: consent check, break-glass, render, audit.

The guard has already decided (role, customers, read, purpose); what is left depends on the
customer (consents, an active break-glass grant) and is decided here, in one place, with one
audit entry per customer read (allow or deny) in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.access import breakglass
from cdp.access.guard import AccessContext
from cdp.access.render import effective_consents, render_with_summary
from cdp.audit.log import record
from cdp.errors import CdpError, Forbidden, NotFound, ValidationError
from cdp.platform import Platform

READ_ACTION = "customers.read"
BREAK_GLASS_ACTION = "customers.break_glass"


def _assemble(session: Session, platform: Platform, customer_id: str) -> dict[str, Any]:
    from cdp.identity.view import assemble_customer

    return assemble_customer(session, platform, customer_id)


def read_customer(
    session: Session,
    platform: Platform,
    ctx: AccessContext,
    customer_id: str,
    *,
    break_glass_id: str | None = None,
    action: str = READ_ACTION,
) -> dict[str, Any]:
    """The customer as ``ctx`` may see it; every outcome is audited."""

    def deny(reason: str, exc: CdpError, **detail: Any) -> CdpError:
        record(
            session,
            ctx.audit(
                action=action,
                customer_id=customer_id,
                decision="deny",
                detail={"reason": reason, **detail},
            ),
        )
        return exc

    if not (isinstance(customer_id, str) and 1 <= len(customer_id) <= 32 and customer_id.isalnum()):
        raise deny("not_found", NotFound("no such customer"))
    plain: frozenset[str] = frozenset()
    grant = None
    if break_glass_id is not None:
        # Checked before anything is decrypted.
        try:
            grant = breakglass.check(
                session, break_glass_id, api_key_id=ctx.principal.key_id, customer_id=customer_id
            )
        except Forbidden as exc:
            raise deny(exc.code, exc, break_glass=break_glass_id[:32]) from None
        plain = ctx.policy.break_glass.get(ctx.role, frozenset())
    try:
        view = _assemble(session, platform, customer_id)
    except NotFound:
        raise deny("not_found", NotFound("no such customer")) from None
    consents = effective_consents(view)
    needed = ctx.policy.required_consent(ctx.purpose)
    if needed and not consents.get(needed, False) and view.get("status") != "merged":
        raise deny(
            "consent_missing",
            Forbidden(
                f"purpose {ctx.purpose!r} needs the customer's {needed!r} consent, which is not granted",
                code="consent_required",
            ),
            consent=needed,
        )
    rendered, summary = render_with_summary(
        view, ctx.role, ctx.purpose, consents, policy=ctx.policy, plain_categories=plain
    )
    detail: dict[str, Any] = {"withheld": sorted(summary.withheld)}
    if grant is not None:
        detail["break_glass"] = grant.id
    record(
        session,
        ctx.audit(
            action=action,
            customer_id=customer_id,
            categories=summary.given.keys(),
            view=summary.given,
            reason=grant.reason if grant else None,
            detail=detail,
        ),
    )
    return rendered


def find_customer_ids(
    session: Session,
    platform: Platform,
    identifier_type: str,
    value: str,
    source: str | None,
) -> list[str]:
    """Customers holding ``identifier_type`` = ``value`` (exact after normalisation)."""
    from cdp.identity.ingest import lookup_index
    from cdp.identity.models import Identifier
    from cdp.identity.normalize import KNOWN_TYPES

    if identifier_type not in KNOWN_TYPES:
        raise ValidationError(
            f"identifier_type must be one of: {', '.join(sorted(KNOWN_TYPES))}",
            code="invalid_identifier_type",
        )
    index = lookup_index(platform.keyring, identifier_type, value, source)
    if index is None:
        raise ValidationError(
            "value is not a searchable identifier of that type (masked or invalid)",
            code="invalid_identifier",
        )
    rows = session.scalars(
        select(Identifier.customer_id)
        .where(Identifier.type == identifier_type, Identifier.bidx == index)
        .distinct()
    )
    return sorted(set(rows))


def audit_lookup(session: Session, ctx: AccessContext, identifier_type: str, matches: int) -> None:
    """Audit a search itself (never the value searched): misses matter for enumeration."""
    record(
        session,
        ctx.audit(
            action="customers.lookup",
            detail={"identifier_type": identifier_type, "matches": matches},
        ),
    )


def open_break_glass(
    session: Session,
    ctx: AccessContext,
    customer_id: str,
    reason: str,
    minutes: int,
) -> dict[str, Any]:
    """Grant plain access to one customer for ``minutes``; audited as its own action."""
    from cdp.identity.models import Customer

    if session.get(Customer, customer_id) is None:
        record(
            session,
            ctx.audit(
                action=BREAK_GLASS_ACTION,
                customer_id=customer_id[:32],
                decision="deny",
                detail={"reason": "not_found"},
            ),
        )
        raise NotFound("no such customer")
    categories = sorted(ctx.policy.break_glass.get(ctx.role, frozenset()))
    row = breakglass.grant(
        session,
        api_key_id=ctx.principal.key_id,
        actor=ctx.principal.actor,
        role=ctx.role,
        purpose=ctx.purpose or "",
        customer_id=customer_id,
        reason=reason,
        minutes=minutes,
        request_id=ctx.audit(action="").request_id,
    )
    record(
        session,
        ctx.audit(
            action=BREAK_GLASS_ACTION,
            customer_id=customer_id,
            categories=categories,
            view={c: "plain" for c in categories},
            reason=row.reason,
            detail={"grant": row.id, "expires_at": row.expires_at.isoformat()},
        ),
    )
    return {
        "grant_id": row.id,
        "customer_id": customer_id,
        "expires_at": row.expires_at.isoformat(),
        "categories": categories,
    }
