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


def _assemble(
    session: Session, platform: Platform, customer_id: str, *, withhold: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    from cdp.identity.view import assemble_customers

    return assemble_customers(session, platform, [customer_id], withhold_statuses=withhold).get(
        customer_id
    )


def serves_restricted(policy: Any, purpose: str | None) -> bool:
    """Whether ``purpose`` may read a customer whose processing is restricted (PIPL art. 44
    restriction, or kept records after erasure): ``serves_restricted = true`` on the purpose
    in views.toml. Deny when unsaid."""
    if purpose is None:
        return False
    # Exactly `true`: a typo such as "false" (a non-empty string) must not open access.
    return (policy.purposes.get(purpose) or {}).get("serves_restricted") is True


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
                session,
                break_glass_id,
                api_key_id=ctx.principal.key_id,
                console_user_id=ctx.principal.user_id,
                customer_id=customer_id,
            )
        except Forbidden as exc:
            raise deny(exc.code, exc, break_glass=break_glass_id[:32]) from None
        plain = ctx.policy.break_glass.get(ctx.role, frozenset())
    restricted_ok = serves_restricted(ctx.policy, ctx.purpose)
    # A restricted customer is not even decrypted for a purpose that may not see it.
    view = _assemble(session, platform, customer_id, withhold=() if restricted_ok else ("restricted",))
    if view is None:
        raise deny("not_found", NotFound("no such customer"))
    if view.get("status") == "erased":
        raise deny(
            "customer_erased",
            CdpError("this customer's data has been erased", code="customer_erased", status=410),
        )
    if view.get("status") == "restricted" and not restricted_ok:
        allowed = sorted(p for p in ctx.policy.purposes if serves_restricted(ctx.policy, p))
        raise deny(
            "customer_restricted",
            Forbidden(
                "processing of this customer's data is restricted; it is served only for "
                f"the purposes: {', '.join(allowed) or 'none'}",
                code="customer_restricted",
            ),
        )
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
    platform: Platform | None = None,
) -> dict[str, Any]:
    """Grant plain access to one customer for ``minutes``; audited as its own action.

    The reason is stored and audited redacted; as written it is kept only encrypted under
    the customer's data key (``platform`` gives the keys; the request's platform by default).
    """
    from cdp.crypto.models import DataKey
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
    if platform is None:
        from cdp.web import current_platform

        platform = current_platform()
    key_row = session.scalar(
        select(DataKey)
        .where(DataKey.customer_id == customer_id, DataKey.wrapped.is_not(None))
        .order_by(DataKey.created_at.desc())
        .limit(1)
    )
    row = breakglass.grant(
        session,
        api_key_id=ctx.principal.key_id,
        console_user_id=ctx.principal.user_id,
        actor=ctx.principal.actor,
        role=ctx.role,
        purpose=ctx.purpose or "",
        customer_id=customer_id,
        reason=reason,
        minutes=minutes,
        request_id=ctx.audit(action="").request_id,
        data_key=(key_row.id, platform.keys.unwrap(key_row)) if key_row is not None else None,
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
