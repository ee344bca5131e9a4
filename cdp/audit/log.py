"""Write audit entries in the caller's transaction, hash-chained to the previous entry."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cdp.audit.models import AuditEvent
from cdp.db import is_postgres, utcnow

GENESIS = "0" * 64
# pg advisory lock keys of the chain heads: CHAIN_LOCK + chain number ("cdpaudit" as int64).
CHAIN_LOCK = 0x6364706175646974
# Number of parallel hash chains on PostgreSQL. A writer holds its chain's lock from its
# append until its transaction ends, so one chain would make every auditing transaction
# queue behind the one before it; with N chains N such transactions commit side by side.
# SQLite serialises writers anyway (BEGIN IMMEDIATE): one chain there.
PG_CHAINS_DEFAULT = 8
PG_CHAINS = PG_CHAINS_DEFAULT


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


# One encoder for every entry: json.dumps with these options would build a new one per call,
# which is a third of the cost of verifying an entry.
_HEAD_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def canonical_text(
    chain: int,
    seq: int,
    at: datetime | str,
    actor: str,
    role: str | None,
    purpose: str | None,
    action: str,
    customer_id: str | None,
    decision: str,
    reason: str | None,
    request_id: str | None,
    categories_json: str,
    view_json: str,
    detail_json: str,
) -> str:
    """The exact text an entry's hash covers (everything except id and the hashes).

    The JSON columns enter as the text stored in the database (``json.dumps``, which is
    what SQLAlchemy writes and what both databases keep verbatim), length-prefixed so no
    content can slide from one field to the next. Verification then hashes stored text
    without parsing JSON, which keeps a million-entry check fast. ``at`` may be given
    already as its ``isoformat()`` text (what the verifier reads from PostgreSQL).
    """
    head = _HEAD_ENCODER.encode(
        [
            chain,
            seq,
            at if isinstance(at, str) else at.isoformat(),
            actor,
            role,
            purpose,
            action,
            customer_id,
            decision,
            reason,
            request_id,
        ]
    )
    return (
        f"{head}|{len(categories_json)}:{categories_json}|{len(view_json)}:{view_json}"
        f"|{len(detail_json)}:{detail_json}"
    )


def canonical(row: Any) -> str:
    """``canonical_text`` of an entry held as Python values (an AuditEvent or alike)."""
    return canonical_text(
        row.chain,
        row.seq,
        row.at,
        row.actor,
        row.role,
        row.purpose,
        row.action,
        row.customer_id,
        row.decision,
        row.reason,
        row.request_id,
        json.dumps(list(row.categories or [])),
        json.dumps(row.view or {}),
        json.dumps(row.detail or {}),
    )


def chain_digest(prev_hash: str, canonical_body: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{canonical_body}".encode()).hexdigest()


def entry_digest(prev_hash: str, row: Any) -> str:
    """SHA-256 over the previous hash of the same chain and the canonical content of ``row``."""
    return chain_digest(prev_hash, canonical(row))


_PICK_CHAIN = text(
    "SELECT (c + :start) % :n FROM generate_series(0, :n - 1) AS c "
    "WHERE pg_try_advisory_xact_lock(:base + (c + :start) % :n) LIMIT 1"
)


def _chain_for(session: Session) -> int:
    """The chain this transaction appends to, locked until the transaction ends."""
    tx = session.get_transaction()
    held = session.info.get("cdp_audit_chain")
    if held is not None and held[0] is tx:
        return held[1]
    if not is_postgres(session):
        chain = 0
    else:
        start = random.randrange(PG_CHAINS)
        chain = session.scalar(_PICK_CHAIN, {"start": start, "n": PG_CHAINS, "base": CHAIN_LOCK})
        if chain is None:  # every chain busy: queue on one
            chain = start
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK + chain})
    session.info["cdp_audit_chain"] = (tx, chain)
    return chain


def _chain_head(session: Session, chain: int) -> tuple[int, str]:
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.entry_hash)
        .where(AuditEvent.chain == chain)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    return (head[0], head[1]) if head else (0, GENESIS)


def record(session: Session, *entries: AuditEntry) -> list[AuditEvent]:
    """Append ``entries`` to the audit log inside the caller's transaction (flushes).

    The entries become durable only if the caller's transaction commits: the audit row is
    part of the act it records.
    """
    if not entries:
        return []
    chain = _chain_for(session)
    seq, prev = _chain_head(session, chain)
    rows: list[AuditEvent] = []
    for e in entries:
        seq += 1
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
            chain=chain,
            seq=seq,
        )
        row.entry_hash = entry_digest(prev, row)
        prev = row.entry_hash
        session.add(row)
        rows.append(row)
    session.flush()
    return rows
