"""Erasure: keep what the law requires under a retention key, then crypto-shred the rest.

Order matters: prescription-drug sales are first decrypted with the customer's data key and
re-encrypted under a fresh key of their own (``retained_records``), then every data key the
customer owns is destroyed, and the encrypted rows, blind indexes and match keys are
deleted. Without its blind indexes nobody can find the person again, and a later ingest of
the same person starts a new customer that inherits nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from cdp.crypto import fields
from cdp.db import new_id, utcnow
from cdp.db.results import affected_rows
from cdp.errors import DecryptionError, NotFound
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
from cdp.platform import Platform
from cdp.rights import hooks
from cdp.rights.models import RetainedRecord


@dataclass
class ErasureResult:
    customers: list[str]
    records_deleted: int
    identifiers_deleted: int
    keys_shredded: int
    retained: int
    # rows of the capabilities above (the CRM's derived rows), per table
    derived_rows_deleted: dict[str, int] = field(default_factory=dict)


def _aad(column: str, row_id: str) -> bytes:
    return fields.field_aad("retained_records", column, row_id)


def absorbed_ids(session: Session, customer_id: str) -> list[str]:
    """``customer_id`` and every customer merged into it, directly or transitively."""
    out = [customer_id]
    frontier = [customer_id]
    while frontier:
        nxt = list(session.scalars(select(Customer.id).where(Customer.merged_into.in_(frontier))))
        nxt = [c for c in nxt if c not in out]
        out += nxt
        frontier = nxt
    return out


def _parse_ts(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else None


def _retain_rx(session: Session, platform: Platform, ids: list[str], keep: timedelta,
               now: datetime) -> int:
    """Copy the prescription orders of ``ids`` under retention keys; returns rows written."""
    recs = list(session.scalars(select(SourceRecord).where(
        SourceRecord.customer_id.in_(ids), SourceRecord.has_rx.is_(True))))
    if not recs:
        return 0
    deks = platform.keys.load(session, {r.data_key_id for r in recs})
    gov_ids: dict[str, list[Identifier]] = {}
    for ident in session.scalars(select(Identifier).where(
            Identifier.record_id.in_([r.id for r in recs]),
            Identifier.type.in_(("national_id", "passport")))):
        gov_ids.setdefault(ident.record_id, []).append(ident)
    written = 0
    for r in recs:
        dek = deks.get(r.data_key_id)
        if dek is None or r.orders_ct is None:
            continue  # already shredded: nothing readable is left to keep
        orders = fields.decrypt_json(dek, r.orders_ct, fields.field_aad("source_records", "orders_ct", r.id))
        rx = [o for o in orders or [] if any(i.get("rx") for i in o.get("items", []))]
        if not rx:
            continue
        sold = [t for t in (_parse_ts(o.get("ordered_at")) for o in rx) if t] or [r.observed_at or now]
        keep_until = max(sold) + keep
        if keep_until <= now:
            continue  # its legal retention has already run out
        profile: dict[str, Any] = {}
        if r.profile_ct is not None:
            profile = fields.decrypt_json(dek, r.profile_ct,
                                          fields.field_aad("source_records", "profile_ct", r.id)) or {}
        # Real-name sale of prescription drugs: the buyer's name and ID document go with it.
        buyer_ids = []
        for ident in gov_ids.get(r.id, []):
            try:
                value = fields.decrypt(dek, ident.value_ct,
                                       fields.field_aad("identifiers", "value_ct", ident.id)).decode()
            except DecryptionError:
                continue
            buyer_ids.append({"type": ident.type, "value": value})
        payload = {
            "source": r.source,
            "source_record_id": r.source_record_id,
            "observed_at": r.observed_at.isoformat() if r.observed_at else None,
            "buyer": {"name": profile.get("name"), "identifiers": buyer_ids},
            "prescriptions": rx,
        }
        retain_record(session, platform, customer_id=r.customer_id, source=r.source,
                      category="health", reason="rx_record_retention", payload=payload,
                      keep_until=keep_until, now=now)
        written += 1
    session.flush()
    return written


def retain_record(session: Session, platform: Platform, *, customer_id: str, source: str,
                  category: str, reason: str, payload: dict[str, Any], keep_until: datetime,
                  now: datetime) -> None:
    """Keep ``payload`` past an erasure, until ``keep_until``: encrypted under a fresh key of
    its own, wrapped by the keyring (the customer's data keys are about to be destroyed),
    readable by compliance roles only (``read_retained``), purged by the retention job.
    Capabilities above rights call it from their erasure hooks for what the law makes them
    keep (the CRM: adverse drug reaction reports)."""
    rid = new_id()
    key = os.urandom(32)
    version = platform.keyring.wrapping_version()
    session.add(RetainedRecord(
        id=rid, customer_id=customer_id, source=source, category=category, reason=reason,
        kek_version=version,
        wrapped_key=fields.encrypt(platform.keyring.kek(version), key, _aad("wrapped_key", rid)),
        payload_ct=fields.encrypt_json(key, payload, _aad("payload_ct", rid)),
        created_at=now, keep_until=keep_until,
    ))


def _count_retained(session: Session, ids: list[str]) -> int:
    session.flush()
    return int(session.scalar(select(func.count()).select_from(RetainedRecord)
                              .where(RetainedRecord.customer_id.in_(ids))) or 0)


def read_retained(session: Session, platform: Platform, customer_id: str) -> list[dict[str, Any]]:
    """The kept prescription records of an erased customer, decrypted (compliance only:
    the caller checks the role and audits)."""
    out = []
    for row in session.scalars(select(RetainedRecord).where(RetainedRecord.customer_id == customer_id)
                               .order_by(RetainedRecord.created_at, RetainedRecord.id)):
        key = fields.decrypt(platform.keyring.kek(row.kek_version), row.wrapped_key,
                             _aad("wrapped_key", row.id))
        out.append({"id": row.id, "category": row.category, "reason": row.reason,
                    "keep_until": row.keep_until.isoformat(),
                    "record": fields.decrypt_json(key, row.payload_ct, _aad("payload_ct", row.id))})
    return out


def erase_customer(session: Session, platform: Platform, customer_id: str, *, rx_keep: timedelta,
                   actor: str, reason: str = "data subject request",
                   now: datetime | None = None) -> ErasureResult:
    """Erase ``customer_id`` (and every customer merged into it). Flushes; the caller commits
    and audits. ``now`` decides which prescriptions are still within their retention."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("no such customer")
    now = now or utcnow()
    ids = absorbed_ids(session, customer_id)
    retained = _retain_rx(session, platform, ids, rx_keep, now)
    derived: dict[str, int] = {}
    before_hooks = _count_retained(session, ids)
    for hook in hooks.ERASURE_HOOKS.values():
        derived.update(hook(session, platform, ids, now))
    retained += _count_retained(session, ids) - before_hooks  # what the hooks must keep
    shredded = 0
    for cid in ids:
        shredded += platform.keys.shred(session, cid)
    record_ids = list(session.scalars(select(SourceRecord.id).where(SourceRecord.customer_id.in_(ids))))
    n_ident = 0
    for start in range(0, max(len(record_ids), 1), 500):
        chunk = record_ids[start:start + 500]
        if not chunk:
            break
        n_ident += affected_rows(session.execute(delete(Identifier).where(Identifier.record_id.in_(chunk))))
        session.execute(delete(MatchKey).where(MatchKey.record_id.in_(chunk)))
        session.execute(delete(Interaction).where(Interaction.record_id.in_(chunk)))
        session.execute(delete(IdentityLink).where(IdentityLink.record_id.in_(chunk)))
        session.execute(update(Consent).where(Consent.record_id.in_(chunk)).values(record_id=None))
    # Rows the records no longer reach (moved by merges) go too.
    n_ident += affected_rows(session.execute(delete(Identifier).where(Identifier.customer_id.in_(ids))))
    session.execute(delete(MatchKey).where(MatchKey.customer_id.in_(ids)))
    session.execute(delete(Interaction).where(Interaction.customer_id.in_(ids)))
    session.execute(delete(IdentityLink).where(IdentityLink.customer_id.in_(ids)))
    session.execute(delete(Consent).where(Consent.customer_id.in_(ids)))
    n_rec = affected_rows(session.execute(delete(SourceRecord).where(SourceRecord.customer_id.in_(ids))))
    session.execute(update(Customer).where(Customer.id.in_(ids))
                    .values(status="erased", updated_at=now)
                    .execution_options(synchronize_session=False))
    session.add(LineageEvent(kind="erased", customer_id=customer_id, record_ids=[],
                             evidence=[], actor=actor, reason=reason[:200], created_at=now))
    session.flush()
    session.expire_all()
    return ErasureResult(ids, n_rec, n_ident, shredded, retained, derived)
