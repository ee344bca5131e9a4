"""Correction (PIPL art. 46): the corrected values arrive as a new, newest source record of
the customer from the channel ``dsr_correction``, so the golden record takes them while the
lineage keeps what was there before and who changed it."""

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
    return rid
