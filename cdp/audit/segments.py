"""Signed segment statements of the archived audit log, as stored in ``audit_segments``:
reading them and checking that they continue one another. Used by verification (where the
live log starts) and by archiving (what the next segment continues)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.audit.log import GENESIS
from cdp.audit.models import AuditSegment

# chain -> (seq, entry hash) of its first or last entry in a segment
Heads = dict[int, tuple[int, str]]


def heads_of(raw: dict[str, Any]) -> Heads:
    return {int(c): (int(v[0]), str(v[1])) for c, v in raw.items()}


def heads_json(heads: Heads) -> dict[str, list[Any]]:
    return {str(c): [s, h] for c, (s, h) in sorted(heads.items())}


def statement_digest(statement: str) -> str:
    return hashlib.sha256(statement.encode()).hexdigest()


def signature_ok(key: Ed25519PublicKey, statement: str, signature: bytes) -> bool:
    try:
        key.verify(signature, statement.encode())
        return True
    except InvalidSignature:
        return False


def stored_segments(session: Session) -> list[AuditSegment]:
    return list(session.scalars(select(AuditSegment).order_by(AuditSegment.id)))


def check_segment_rows(rows: list[AuditSegment], key: Ed25519PublicKey) -> tuple[Heads, int, list[str]]:
    """Check the stored segment statements (signature, each continuing the one before).

    Returns the live log's starting heads (the newest segment's signed ends), the number of
    archived entries, and the problems found (empty when all hold)."""
    problems: list[str] = []
    ends: Heads = {}
    archived = 0
    previous: str | None = None
    for row in rows:
        label = f"segment {row.id} ({row.file_name})"
        if not signature_ok(key, row.statement, row.signature):
            problems.append(f"{label}: signature does not verify")
            continue
        body = json.loads(row.statement)
        if body.get("previous") != previous or heads_of(body["starts"]) != {
            c: ends.get(c, (0, GENESIS)) for c in heads_of(body["starts"])
        }:
            problems.append(f"{label}: does not continue the segment before it")
        ends = heads_of(body["ends"])
        archived += int(body["entry_count"])
        previous = statement_digest(row.statement)
    return ends, archived, problems
