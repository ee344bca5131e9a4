"""Correction (PIPL art. 46): the inaccurate value is replaced wherever the customer's
records hold it (each record's profile is re-encrypted under its own data key), and the
corrected values are also kept as a source record of the channel ``dsr_correction`` with an
identity link naming the actor, so the lineage shows who corrected what and when. A channel
that later re-sends its old value updates its own record again, as any re-send does.

Identifiers can be corrected too (``changes["identifiers"] = [{"type", "old", "value"}]``):
every identifier of the customer equal to ``old`` after normalisation takes the new value.
After a rewrite the record's blind indexes and match keys are rebuilt with the identity
module's own preparation (``cdp.identity.reindex``), so matching and
``GET /v1/customers?identifier_type=&value=`` find the corrected values and no longer the
old ones."""

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
from cdp.errors import Conflict, ValidationError
from cdp.identity import normalize as nz
from cdp.identity.models import Customer, Identifier, IdentityLink, SourceRecord
from cdp.identity.reindex import reindex_record
from cdp.platform import Platform
from cdp.rights.models import DsrRequest

SOURCE = "dsr_correction"


IdentifierFix = tuple[str, str, str]  # (type, old value, new value)


def identifier_fixes(changes: dict[str, Any]) -> list[IdentifierFix]:
    """The identifier corrections of ``changes``, validated (ValidationError, value-free):
    known type, non-empty strings, and a new value that is a valid identifier of its type."""
    raw = changes.get("identifiers")
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw or len(raw) > 20:
        raise ValidationError("identifiers must be a list of {type, old, value} (at most 20)")
    out: list[IdentifierFix] = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"type", "old", "value"}:
            raise ValidationError("each identifier correction is {type, old, value}")
        t, old, new = item["type"], item["old"], item["value"]
        if t not in nz.KNOWN_TYPES:
            raise ValidationError(f"identifier type must be one of: {', '.join(sorted(nz.KNOWN_TYPES))}")
        if not all(isinstance(v, str) and 0 < len(v.strip()) <= 256 for v in (old, new)):
            raise ValidationError("old and value must be non-empty strings of at most 256 characters")
        if nz.normalize_identifier(t, new, "").status != nz.VALID:
            raise ValidationError(f"the corrected value is not a valid {t}")
        out.append((t, old, new))
    return out


def _same_identifier(id_type: str, a: str, b: str, source: str) -> bool:
    na, nb = nz.normalize_identifier(id_type, a, source), nz.normalize_identifier(id_type, b, source)
    if na.norm is not None and nb.norm is not None:
        return na.norm == nb.norm
    return nz.nfkc(a).replace(" ", "") == nz.nfkc(b).replace(" ", "")


def check_correction(session: Session, platform: Platform, customer_id: str,
                     changes: dict[str, Any]) -> None:
    """Refuse (before anything is written) an identifier correction whose old value the
    customer does not hold."""
    fixes = identifier_fixes(changes)
    if not fixes:
        return
    held = _held_identifiers(session, platform, customer_id)
    for t, old, _ in fixes:
        if not any(row.type == t and _same_identifier(t, value, old, source) for row, value, source in held):
            raise ValidationError(
                f"the customer holds no {t} equal to the old value", code="identifier_not_held"
            )


def _held_identifiers(session: Session, platform: Platform,
                      customer_id: str) -> list[tuple[Identifier, str, str]]:
    """(row, decrypted value, record source) of every readable identifier of the customer."""
    rows = list(session.execute(
        select(Identifier, SourceRecord.source).join(SourceRecord, SourceRecord.id == Identifier.record_id)
        .where(Identifier.customer_id == customer_id)).tuples())
    deks = platform.keys.load(session, {r.data_key_id for r, _ in rows})
    out = []
    for row, source in rows:
        dek = deks.get(row.data_key_id)
        if dek is None:
            continue
        aad = fields.field_aad("identifiers", "value_ct", row.id)
        value = fields.decrypt(dek, row.value_ct, aad).decode()
        out.append((row, value, source))
    return out


def apply_correction(session: Session, platform: Platform, req: DsrRequest, changes: dict[str, Any],
                     *, actor: str) -> str:
    """Store ``changes`` (profile fields, identifiers) as a correction record, rewrite every
    record holding an old value and rebuild its indexes; returns the correction record's id."""
    customer = session.get(Customer, req.customer_id)
    if customer is None or customer.status in ("erased", "merged"):
        raise Conflict("this customer cannot be corrected", code="not_correctable")
    fixes = identifier_fixes(changes)
    profile_changes = {k: v for k, v in changes.items() if k != "identifiers"}
    key_row = session.scalar(select(DataKey).where(DataKey.customer_id == customer.id,
                                                   DataKey.wrapped.is_not(None))
                             .order_by(DataKey.created_at.desc()).limit(1))
    if key_row is None:
        key_row, dek = platform.keys.create(session, customer.id)
        session.flush()
    else:
        dek = platform.keys.unwrap(key_row)
    now = utcnow()
    corrected = _rewrite_records(session, platform, customer.id, profile_changes, fixes)
    rid = new_id()
    canonical = json.dumps(changes, sort_keys=True, ensure_ascii=False).encode()
    rec = SourceRecord(
        id=rid, source=SOURCE, source_record_id=f"dsr-{req.id}", customer_id=customer.id,
        data_key_id=key_row.id, observed_at=now,
        content_hmac=hmac.new(platform.keyring.index_key("content"), canonical, hashlib.sha256).hexdigest(),
        profile_ct=fields.encrypt_json(
            dek, profile_changes, fields.field_aad("source_records", "profile_ct", rid)
        ),
        orders_ct=None, extra_ct=None, extra_categories=[], has_rx=False,
        created_at=now, updated_at=now,
    )
    session.add(rec)
    session.flush()
    # The correction record itself is evidence for matching, like any channel's record.
    reindex_record(session, platform, rec, dek, profile_changes, [(t, new) for t, _, new in fixes])
    session.add(IdentityLink(record_id=rid, customer_id=customer.id, rule="dsr:correction",
                             evidence=sorted(changes), score=None, actor=actor, created_at=now))
    customer.updated_at = now
    session.flush()
    req.result = {**(req.result or {}), "records_corrected": corrected}
    return rid


def _rewrite_records(session: Session, platform: Platform, customer_id: str,
                     changes: dict[str, Any], fixes: list[IdentifierFix]) -> int:
    """Replace the changed profile fields and identifiers in every record of the customer
    that holds them, and rebuild those records' blind indexes and match keys."""
    recs = list(session.scalars(select(SourceRecord).where(SourceRecord.customer_id == customer_id)))
    deks = platform.keys.load(session, {r.data_key_id for r in recs})
    touched_ids: set[str] = set()
    for row, value, source in _held_identifiers(session, platform, customer_id) if fixes else []:
        new = next(
            (n for t, old, n in fixes if row.type == t and _same_identifier(t, value, old, source)), None
        )
        if new is not None:
            touched_ids.add(row.record_id)
    n = 0
    for r in recs:
        dek = deks.get(r.data_key_id)
        if dek is None:
            continue
        aad = fields.field_aad("source_records", "profile_ct", r.id)
        profile = (fields.decrypt_json(dek, r.profile_ct, aad) or {}) if r.profile_ct is not None else {}
        touched = {k: v for k, v in changes.items() if k in profile and profile[k] != v}
        if not touched and r.id not in touched_ids:
            continue
        if touched:
            profile.update(touched)
            r.profile_ct = fields.encrypt_json(dek, profile, aad)
        identifiers = None
        if r.id in touched_ids:
            identifiers = []
            for row, value, _ in _record_identifiers(session, platform, r):
                new = next((nv for t, old, nv in fixes
                            if row.type == t and _same_identifier(t, value, old, r.source)), None)
                identifiers.append((row.type, new if new is not None else value))
        reindex_record(session, platform, r, dek, profile, identifiers)
        n += 1
    session.flush()
    return n


def _record_identifiers(session: Session, platform: Platform,
                        rec: SourceRecord) -> list[tuple[Identifier, str, str]]:
    from cdp.identity.reindex import record_identifiers

    rows = record_identifiers(session, rec.id)
    deks = platform.keys.load(session, {r.data_key_id for r in rows})
    return [(row, fields.decrypt(deks[row.data_key_id], row.value_ct,
                                 fields.field_aad("identifiers", "value_ct", row.id)).decode(), rec.source)
            for row in rows]
