"""Data-steward operations: merge two customers, split records off into a new customer.

Both keep full lineage (LineageEvent + ended/started IdentityLinks) and write an audit entry
in the caller's transaction. They flush, never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from cdp.audit.log import AuditEntry, record
from cdp.crypto import fields
from cdp.crypto.models import DataKey
from cdp.db import utcnow
from cdp.errors import Conflict, NotFound, ValidationError
from cdp.identity import hooks
from cdp.identity.models import (
    Consent,
    Customer,
    Identifier,
    IdentityLink,
    Interaction,
    LineageEvent,
    MatchKey,
    SourceRecord,
)
from cdp.identity.writer import merge_rows
from cdp.policyfiles import PolicyFiles

MAX_REASON = 2000


def _active(session: Session, customer_id: str) -> Customer:
    c = session.get(Customer, customer_id, with_for_update=True)
    if c is None:
        raise NotFound("no such customer")
    if c.status not in ("active", "restricted"):
        raise Conflict(f"customer is {c.status}", code="customer_not_active")
    return c


def _check_reason(reason: str, policies: PolicyFiles) -> str:
    """The reason as stored in the lineage: redacted by the PII engine, since a steward's
    note ("same person, both called from 138...") is free text that may name the customer."""
    from cdp.pii.redact import redact_text

    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("a reason is required", code="reason_required")
    return redact_text(reason[:MAX_REASON], "storage", policies=policies).text


def _national_ids(session: Session, customer_id: str) -> set[str]:
    return set(session.scalars(
        select(Identifier.bidx).where(
            Identifier.customer_id == customer_id,
            Identifier.type == "national_id",
            Identifier.status == "valid",
        )
    ))


def _context(audit_context: Mapping[str, Any] | None) -> dict[str, Any]:
    """role / purpose / request_id of the caller, for the audit entries (nothing else)."""
    ctx = dict(audit_context or {})
    return {k: ctx[k] for k in ("role", "purpose", "request_id") if ctx.get(k) is not None}


def merge_customers(session: Session, platform: Any, a: str, b: str, actor: str, reason: str,
                    *, audit_context: Mapping[str, Any] | None = None) -> str:
    """Merge customer ``b`` into ``a``; returns ``a``.

    ``audit_context`` (role, purpose, request_id of the caller) goes into the audit entries
    with ``actor``, so an API merge names the key's role and the request that made it.

    Refused (Conflict) when the two hold different valid national ID numbers. ``b`` keeps
    existing as status "merged" pointing at ``a``; its data keys move to ``a`` so every
    inherited value stays readable.
    """
    reason = _check_reason(reason, platform.policies)
    if a == b:
        raise ValidationError("cannot merge a customer with itself", code="same_customer")
    ca, cb = _active(session, a), _active(session, b)
    na, nb = _national_ids(session, a), _national_ids(session, b)
    if na and nb and na != nb:
        raise Conflict("the customers hold different national ID numbers", code="national_id_conflict")
    now = utcnow()
    record_ids = merge_rows(session, b, a, "steward", ["steward"], actor, now, platform=platform)
    ca.updated_at = now
    session.add(LineageEvent(kind="merged", customer_id=a, other_customer_id=b,
                             record_ids=record_ids, rule="steward", evidence=["steward"],
                             actor=actor, reason=reason, created_at=now))
    session.flush()
    session.expire(cb)
    ctx = _context(audit_context)
    record(session,
           AuditEntry(actor=actor, action="identity.merge", customer_id=a,
                      detail={"merged": b, "records": len(record_ids)}, **ctx),
           AuditEntry(actor=actor, action="identity.merge", customer_id=b,
                      detail={"merged_into": a}, **ctx))
    return a


def split_records(session: Session, platform: Any, customer_id: str, record_ids: list[str],
                  actor: str, reason: str, *, audit_context: Mapping[str, Any] | None = None) -> str:
    """Move the given source records (internal ids or source_record_id values) of
    ``customer_id`` to a new customer; returns the new customer's id. ``audit_context`` as
    for ``merge_customers``.

    The moved values are re-encrypted under the new customer's own data key, so erasing
    either customer later never touches the other's data.
    """
    reason = _check_reason(reason, platform.policies)
    _active(session, customer_id)
    wanted = sorted(set(record_ids))
    if not wanted:
        raise ValidationError("name at least one record", code="no_records")
    recs = list(session.scalars(select(SourceRecord).where(
        SourceRecord.customer_id == customer_id,
        or_(SourceRecord.id.in_(wanted), SourceRecord.source_record_id.in_(wanted)),
    )))
    found = {r.id for r in recs} | {r.source_record_id for r in recs}
    if not recs or any(w not in found for w in wanted):
        raise NotFound("a named record does not belong to this customer")
    total = session.scalar(select(SourceRecord.id).where(
        SourceRecord.customer_id == customer_id, SourceRecord.id.not_in([r.id for r in recs])
    ).limit(1))
    if total is None:
        raise ValidationError("splitting every record off would leave the customer empty",
                              code="split_all")
    now = utcnow()
    new = Customer(status="active", created_at=now, updated_at=now)
    session.add(new)
    session.flush()
    key_row, new_dek = platform.keys.create(session, new.id)
    session.flush()
    ids = [r.id for r in recs]
    old_deks = platform.keys.load(session, {r.data_key_id for r in recs})

    def rekey(table: str, column: str, row_id: str, key_id: str, blob: bytes) -> bytes:
        aad = fields.field_aad(table, column, row_id)
        return fields.encrypt(new_dek, fields.decrypt(old_deks[key_id], blob, aad), aad)

    def rekey_nullable(table: str, column: str, row_id: str, key_id: str,
                       blob: bytes | None) -> bytes | None:
        return None if blob is None else rekey(table, column, row_id, key_id, blob)

    for r in recs:
        if r.data_key_id not in old_deks:
            raise Conflict("a record's data key is destroyed", code="undecryptable")
        for col in ("profile_ct", "orders_ct", "extra_ct"):
            setattr(r, col, rekey_nullable("source_records", col, r.id, r.data_key_id, getattr(r, col)))
        r.data_key_id = key_row.id
        r.customer_id = new.id
    for i in session.scalars(select(Identifier).where(Identifier.record_id.in_(ids))):
        old_deks.update(platform.keys.load(session, [i.data_key_id]))
        i.value_ct = rekey("identifiers", "value_ct", i.id, i.data_key_id, i.value_ct)
        i.data_key_id, i.customer_id = key_row.id, new.id
    for it in session.scalars(select(Interaction).where(Interaction.record_id.in_(ids))):
        old_deks.update(platform.keys.load(session, [it.data_key_id]))
        it.text_ct = rekey("interactions", "text_ct", it.id, it.data_key_id, it.text_ct)
        it.text_redacted_ct = rekey_nullable("interactions", "text_redacted_ct", it.id, it.data_key_id,
                                             it.text_redacted_ct)
        it.data_key_id, it.customer_id = key_row.id, new.id
    for model in (MatchKey, Consent):
        session.execute(update(model).where(model.record_id.in_(ids)).values(customer_id=new.id))
    session.execute(update(IdentityLink).where(
        IdentityLink.record_id.in_(ids), IdentityLink.ended_at.is_(None)).values(ended_at=now))
    session.execute(insert(IdentityLink), [
        {"record_id": rid, "customer_id": new.id, "rule": "steward:split", "evidence": ["steward"],
         "score": None, "actor": actor, "created_at": now, "ended_at": None} for rid in ids
    ])
    session.add(LineageEvent(kind="split", customer_id=new.id, other_customer_id=customer_id,
                             record_ids=ids, rule="steward", evidence=["steward"], actor=actor,
                             reason=reason, created_at=now))
    session.execute(update(Customer).where(Customer.id == customer_id).values(updated_at=now))
    session.flush()
    hooks.split(session, platform, customer_id, new.id, ids, now)
    ctx = _context(audit_context)
    record(session,
           AuditEntry(actor=actor, action="identity.split", customer_id=customer_id,
                      detail={"new_customer": new.id, "records": len(ids)}, **ctx),
           AuditEntry(actor=actor, action="identity.split", customer_id=new.id,
                      detail={"split_from": customer_id, "records": len(ids)}, **ctx))
    _ = DataKey  # keys of the old customer stay with it: it still owns its other records
    return new.id
