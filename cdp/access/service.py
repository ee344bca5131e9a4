"""Reading the unified view for a caller: consent check, break-glass, render, audit.

The guard has already decided (role, customers, read, purpose); what is left depends on the
customer (consents, an active break-glass grant) and is decided here, in one place, with one
audit entry per customer read (allow or deny) in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.access import breakglass
from cdp.access.guard import AccessContext
from cdp.access.policy import PolicySet
from cdp.access.render import RenderSummary, effective_consents, render_with_summary
from cdp.audit.log import record
from cdp.errors import CdpError, Forbidden, NotFound, ValidationError
from cdp.platform import Platform


class ViewSection(Protocol):
    """A section another capability adds to the customer view (the CRM's ``crm``): what the
    caller may see of it under the read's decision, or None; the categories it shows are
    noted in ``summary`` for the read's audit entry."""

    def __call__(self, session: Session, platform: Platform, customer_id: str, *,
                 policy: PolicySet, role: str, purpose: str | None,
                 consents: Mapping[str, bool], summary: RenderSummary,
                 plain: Iterable[str] = ()) -> dict[str, Any] | None: ...


# Sections by name, added by the assembly (cdp.app) through ``add_view_section``: a
# capability built on this one extends the view without this package importing it.
VIEW_SECTIONS: dict[str, ViewSection] = {}


def add_view_section(name: str, section: ViewSection) -> None:
    """Add (or replace) the view section ``name``."""
    VIEW_SECTIONS[name] = section

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


# DSR states in which a request is open and its requester's identity has been checked.
_OPEN_VERIFIED = ("verified", "in_progress")
DSR_PURPOSE = "data_subject_request"


def restriction_lifted(session: Session, ctx: AccessContext, customer_id: str) -> bool:
    """Whether ``ctx`` may read ``customer_id`` although its processing is restricted.

    Stating a purpose marked ``serves_restricted`` is not enough (anyone whose role may
    state it could lift any restriction): the purpose must be bound to an open, verified
    data subject request for this very customer, and the caller's role must be one that
    handles such requests (policy: ``dsr, write, data_subject_request``).
    """
    if not serves_restricted(ctx.policy, ctx.purpose):
        return False
    if not ctx.policy.allows(ctx.role, "dsr", "write", DSR_PURPOSE):
        return False
    from cdp.rights.models import DsrRequest

    open_request = session.scalar(
        select(DsrRequest.id)
        .where(DsrRequest.customer_id == customer_id, DsrRequest.status.in_(_OPEN_VERIFIED))
        .limit(1)
    )
    return open_request is not None


def _is_restricted(session: Session, customer_id: str) -> bool:
    from cdp.identity.models import Customer

    status = session.scalar(select(Customer.status).where(Customer.id == customer_id))
    return status == "restricted"


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
                purpose=ctx.purpose,
            )
        except Forbidden as exc:
            raise deny(exc.code, exc, break_glass=break_glass_id[:32]) from None
        plain = ctx.policy.break_glass.get(ctx.role, frozenset())
    # Only a purpose that may serve a restricted customer pays for the extra lookups.
    restricted_ok = serves_restricted(ctx.policy, ctx.purpose) and (
        not _is_restricted(session, customer_id)
        or restriction_lifted(session, ctx, customer_id)
    )
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
        # No hint of which purpose or request would open it: that was the way in.
        raise deny(
            "customer_restricted",
            Forbidden(
                "processing of this customer's data is restricted",
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
    if view.get("status") != "merged":
        for name, section in VIEW_SECTIONS.items():
            part = section(session, platform, customer_id, policy=ctx.policy, role=ctx.role,
                           purpose=ctx.purpose, consents=consents, summary=summary, plain=plain)
            if part:
                rendered[name] = part
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
    """Customers holding ``identifier_type`` = ``value`` (exact after normalisation).

    A blocked value (a placeholder typed at a till, ``policies/identity.toml [blocked]``) is
    refused with 422 ``blocked_identifier``: it links unrelated people, so a search on it
    would hand out strangers' records.
    """
    from cdp.identity import normalize as nz
    from cdp.identity.identifiers import lookup_index
    from cdp.identity.models import Identifier
    from cdp.identity.rules import load_rules

    if identifier_type not in nz.KNOWN_TYPES:
        raise ValidationError(
            f"identifier_type must be one of: {', '.join(sorted(nz.KNOWN_TYPES))}",
            code="invalid_identifier_type",
        )
    normal = nz.normalize_identifier(identifier_type, value, source or "")
    if normal.status == nz.PLACEHOLDER or (
        normal.norm is not None
        and load_rules(platform.policies).is_blocked(identifier_type, normal.norm)
    ):
        raise ValidationError(
            "this value is a known placeholder, not a person's identifier; it cannot be searched",
            code="blocked_identifier",
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


def audit_lookup(
    session: Session,
    ctx: AccessContext,
    identifier_type: str,
    matches: int,
    *,
    refused: str | None = None,
) -> None:
    """Audit a search itself (never the value searched): misses matter for enumeration;
    a refused search (``refused`` = the error code) is audited as a denial."""
    detail: dict[str, Any] = {"identifier_type": identifier_type[:32], "matches": matches}
    if refused is not None:
        detail["reason"] = refused
    record(
        session,
        ctx.audit(
            action="customers.lookup",
            decision="deny" if refused is not None else "allow",
            detail=detail,
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
        from cdp.http import current_platform

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
        policies=platform.policies,
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
