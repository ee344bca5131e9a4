"""Correction (PIPL art. 46): the inaccurate value is replaced wherever the customer's
records hold it (each record's profile is re-encrypted under its own data key), and the
corrected values are also kept as a source record of the channel ``dsr_correction`` with an
identity link naming the actor, so the lineage shows who corrected what and when. A channel
that later re-sends its old value updates its own record again, as any re-send does."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.crypto import fields
from cdp.crypto.models import DataKey
from cdp.db import new_id, utcnow
from cdp.errors import Conflict
from cdp.identity.models import Customer, IdentityLink, SourceRecord
from cdp.platform import Platform
from cdp.rights.models import DsrRequest

SOURCE = "dsr_correction"


def apply_correction(session: Session, platform: Platform, req: DsrRequest, changes: dict[str, Any],
                     *, actor: str) -> str:
    """Store ``changes`` (profile fields) as a correction record; returns its record id."""
    customer = session.get(Customer, req.customer_id)
    if customer is None or customer.status in ("erased", "merged"):
        raise Conflict("this customer cannot be corrected", code="not_correctable")
    key_row = session.scalar(select(DataKey).where(DataKey.customer_id == customer.id,
                                                   DataKey.wrapped.is_not(None))
                             .order_by(DataKey.created_at.desc()).limit(1))
    if key_row is None:
        key_row, dek = platform.keys.create(session, customer.id)
        session.flush()
    else:
        dek = platform.keys.unwrap(key_row)
    now = utcnow()
    corrected = _rewrite_records(session, platform, customer.id, changes)
    rid = new_id()
    canonical = json.dumps(changes, sort_keys=True, ensure_ascii=False).encode()
    session.add(SourceRecord(
        id=rid, source=SOURCE, source_record_id=f"dsr-{req.id}", customer_id=customer.id,
        data_key_id=key_row.id, observed_at=now,
        content_hmac=hmac.new(platform.keyring.index_key("content"), canonical, hashlib.sha256).hexdigest(),
        profile_ct=fields.encrypt_json(dek, changes, fields.field_aad("source_records", "profile_ct", rid)),
        orders_ct=None, extra_ct=None, extra_categories=[], has_rx=False,
        created_at=now, updated_at=now,
    ))
    session.flush()
    session.add(IdentityLink(record_id=rid, customer_id=customer.id, rule="dsr:correction",
                             evidence=sorted(changes), score=None, actor=actor, created_at=now))
    customer.updated_at = now
    session.flush()
    req.result = {**(req.result or {}), "records_corrected": corrected}
    return rid


def _rewrite_records(session: Session, platform: Platform, customer_id: str,
                     changes: dict[str, Any]) -> int:
    """Replace the changed profile fields in every record of the customer that holds them."""
    recs = list(session.scalars(select(SourceRecord).where(
        SourceRecord.customer_id == customer_id, SourceRecord.profile_ct.is_not(None))))
    deks = platform.keys.load(session, {r.data_key_id for r in recs})
    n = 0
    for r in recs:
        dek = deks.get(r.data_key_id)
        if dek is None:
            continue
        aad = fields.field_aad("source_records", "profile_ct", r.id)
        profile = fields.decrypt_json(dek, r.profile_ct, aad) or {}
        touched = {k: v for k, v in changes.items() if k in profile and profile[k] != v}
        if not touched:
            continue
        profile.update(touched)
        r.profile_ct = fields.encrypt_json(dek, profile, aad)
        n += 1
    session.flush()
    return n
