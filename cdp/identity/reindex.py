"""Rebuild the blind indexes and match keys of a stored source record whose values changed.

A correction (PIPL art. 46) rewrites encrypted values in place; matching and identifier lookup
read blind indexes and match keys, so those must follow. They are derived here with ingest's
own ``prepare`` (same normalisation, blocked-value rules and index keys as a fresh ingest),
never with a copy of it, so a corrected record indexes exactly as if it had arrived that way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from cdp.crypto import fields
from cdp.db import new_id
from cdp.identity.models import Identifier, MatchKey, SourceRecord
from cdp.identity.prepare import PreparedRecord, prepare
from cdp.identity.records import RecordRejected, validate_record
from cdp.identity.rules import IdentityRules, load_rules


def prepare_values(platform: Any, source: str, source_record_id: str,
                   identifiers: list[tuple[str, str]], profile: dict[str, Any],
                   rules: IdentityRules | None = None) -> PreparedRecord:
    """Index material (identifier statuses and blind indexes, match keys) of these values, as
    ingest would derive it for a record of ``source``. Raises RecordRejected (value-free
    reason) when the values would not pass ingest validation."""
    rec = validate_record({
        "source": source, "source_record_id": source_record_id,
        "identifiers": [{"type": t, "value": v} for t, v in identifiers],
        "profile": {k: v for k, v in profile.items() if isinstance(v, str) and v},
    })
    return prepare(rec, platform.keyring, rules or load_rules(platform.policies),
                   platform.policies)


def record_identifiers(session: Session, record_id: str) -> list[Identifier]:
    """The record's identifier rows in a stable order."""
    return list(session.scalars(
        select(Identifier).where(Identifier.record_id == record_id).order_by(Identifier.id)))


def reindex_record(session: Session, platform: Any, rec: SourceRecord, dek: bytes,
                   profile: dict[str, Any], identifiers: list[tuple[str, str]] | None = None,
                   rules: IdentityRules | None = None) -> None:
    """Make ``rec``'s identifier rows and match keys reflect ``profile`` and ``identifiers``.

    ``identifiers`` (type, value as received) replaces the record's identifier values in
    order: existing rows are rewritten in place (value re-encrypted, status and blind index
    recomputed), extra ones are added, surplus rows removed. ``None`` keeps the stored
    values and only recomputes. Match keys are replaced by those the values yield now.
    Flushes, never commits.
    """
    rows = record_identifiers(session, rec.id)
    if identifiers is None:
        deks = platform.keys.load(session, {r.data_key_id for r in rows})
        identifiers = [
            (r.type, fields.decrypt(deks[r.data_key_id], r.value_ct,
                                    fields.field_aad("identifiers", "value_ct", r.id)).decode())
            for r in rows
        ]
    try:
        prepared = prepare_values(platform, rec.source, rec.source_record_id, identifiers, profile, rules)
    except RecordRejected:
        # Stored values always passed validation once; a correction is validated before it
        # gets here. Keep what is stored rather than lose the record's indexes.
        return
    for i, p in enumerate(prepared.identifiers):
        if i < len(rows):
            row = rows[i]
        else:
            row = Identifier(id=new_id(), record_id=rec.id, customer_id=rec.customer_id,
                             data_key_id=rec.data_key_id)
            session.add(row)
        row.type, row.status, row.bidx = p.type, p.status, p.bidx
        row.data_key_id, row.customer_id = rec.data_key_id, rec.customer_id
        aad = fields.field_aad("identifiers", "value_ct", row.id)
        row.value_ct = fields.encrypt(dek, p.value.encode(), aad)
    for row in rows[len(prepared.identifiers):]:
        session.delete(row)
    session.execute(delete(MatchKey).where(MatchKey.record_id == rec.id))
    if prepared.match_keys:
        session.execute(insert(MatchKey), [
            {"record_id": rec.id, "customer_id": rec.customer_id, "kind": k, "bidx": b}
            for k, b in prepared.match_keys
        ])
    session.flush()
