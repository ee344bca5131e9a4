"""Write audit entries in the caller's transaction, hash-chained to the previous entry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cdp.audit.models import AuditEvent
from cdp.db import is_postgres, utcnow

GENESIS = "0" * 64
# pg_advisory_xact_lock key for the chain head ("cdpaudit" as an int64).
CHAIN_LOCK = 0x6364706175646974


@dataclass
class AuditEntry:
    """What one audited act was. Holds no personal values: ids, categories, views only."""

    actor: str
    action: str
    decision: str = "allow"
    role: str | None = None
    purpose: str | None = None
    customer_id: str | None = None
    categories: Iterable[str] = ()
    view: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    request_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def entry_digest(prev_hash: str, row: AuditEvent) -> str:
    """SHA-256 over the previous hash and the canonical content of ``row``."""
    body = {
        "at": row.at.isoformat(),
        "actor": row.actor,
        "role": row.role,
        "purpose": row.purpose,
        "action": row.action,
        "customer_id": row.customer_id,
        "categories": list(row.categories or []),
        "view": row.view or {},
        "decision": row.decision,
        "reason": row.reason,
        "request_id": row.request_id,
        "detail": row.detail or {},
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}|{canonical}".encode()).hexdigest()


def _chain_head(session: Session) -> str:
    if is_postgres(session):
        # Serialise appends to the chain head until this transaction ends.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
    head = session.scalar(select(AuditEvent.entry_hash).order_by(AuditEvent.id.desc()).limit(1))
    return head or GENESIS


def record(session: Session, *entries: AuditEntry) -> list[AuditEvent]:
    """Append ``entries`` to the audit log inside the caller's transaction (flushes)."""
    if not entries:
        return []
    prev = _chain_head(session)
    rows: list[AuditEvent] = []
    for e in entries:
        at: datetime = utcnow()
        row = AuditEvent(
            at=at,
            actor=e.actor,
            role=e.role,
            purpose=e.purpose,
            action=e.action,
            customer_id=e.customer_id,
            categories=sorted(set(e.categories)),
            view=dict(e.view),
            decision=e.decision,
            reason=e.reason,
            request_id=e.request_id,
            detail=dict(e.detail),
            prev_hash=prev,
        )
        row.entry_hash = entry_digest(prev, row)
        prev = row.entry_hash
        session.add(row)
        rows.append(row)
        # Flush one at a time so ids follow chain order.
        session.flush()
    return rows
