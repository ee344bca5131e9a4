"""Write audit entries in the caller's transaction, hash-chained to the previous entry."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.orm import Session

from cdp.audit.models import AuditEvent
from cdp.db import UTCDateTime, is_postgres, utcnow
from cdp.db.bulk import insert_rows
from cdp.db.driver_sql import DriverStatement

GENESIS = "0" * 64
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
    actor: str | None,
    role: str | None,
    purpose: str | None,
    action: str | None,
    customer_id: str | None,
    decision: str | None,
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
    already as its ``isoformat()`` text (what the verifier reads from PostgreSQL). Columns a
    writer always fills may be None here: the verifier hashes what is stored, NULLs included.
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


# PostgreSQL: lock the first free chain head (row lock held to the end of the transaction)
# and read it in the same statement. FOR UPDATE returns the newest committed version of
# the row even when another writer committed after this statement's snapshot, so the head
# is never stale. Rows are tried from a random start so writers spread over the chains.
_PICK_HEAD = text(
    "SELECT chain, seq, entry_hash FROM audit_chain_heads WHERE chain < :n "
    "ORDER BY (chain + :n - :start) % :n FOR UPDATE SKIP LOCKED LIMIT 1"
)
_WAIT_HEAD = text(
    "SELECT chain, seq, entry_hash FROM audit_chain_heads WHERE chain = :c FOR UPDATE"
)
_HELD_HEAD = text("SELECT chain, seq, entry_hash FROM audit_chain_heads WHERE chain = :c")
_SEED_HEADS = text(
    "INSERT INTO audit_chain_heads (chain, seq, entry_hash) "
    "SELECT c, 0, :genesis FROM generate_series(0, :n - 1) AS c ON CONFLICT DO NOTHING"
)


def _pg_head(session: Session) -> tuple[int, int, str]:
    """(chain, seq, entry_hash) of the head this transaction appends to: one statement."""
    session.connection()  # begun first: a transaction not yet begun has no object to match
    tx = session.get_transaction()
    held = session.info.get("cdp_audit_chain")
    if held is not None and held[0] is tx:
        # Already ours (locked): read it again rather than cache it, so a rolled-back
        # savepoint can never leave a stale head behind.
        return tuple(session.execute(_HELD_HEAD, {"c": held[1]}).one())
    start = random.randrange(PG_CHAINS)  # noqa: S311 - spreads writers over chains, not a secret
    head = session.execute(_PICK_HEAD, {"n": PG_CHAINS, "start": start}).first()
    if head is None:
        # Every chain busy: queue on one (the only case with a third statement).
        head = session.execute(_WAIT_HEAD, {"c": start}).first()
        if head is None:  # PG_CHAINS was raised past the heads seeded by the migration
            session.execute(_SEED_HEADS, {"n": PG_CHAINS, "genesis": GENESIS})
            head = session.execute(_WAIT_HEAD, {"c": start}).one()
    session.info["cdp_audit_chain"] = (tx, head[0])
    return head[0], head[1], head[2]


def _sqlite_head(session: Session) -> tuple[int, int, str]:
    # SQLite: writers hold the database lock from BEGIN IMMEDIATE; one chain.
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.entry_hash)
        .where(AuditEvent.chain == 0)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    return (0, head[0], head[1]) if head else (0, 0, GENESIS)


_INSERT = insert(AuditEvent.__table__)

# One entry on PostgreSQL (every read of a customer): one statement. It locks a chain head
# (one picked at random, or when that one is busy the first free one after it, or the head
# this transaction already holds), and
# inserts the entry extending it, the server computing the hash from the head it locked:
# sha256(prev_hash "|" canonical_text), where the canonical text starts with the chain and
# seq ('[chain,seq,') and the rest is computed here. No chain free: no row inserted, and
# the two-statement path below queues for one. The head trigger checks the entry as ever.
_COLUMNS = (
    "at, actor, role, purpose, action, customer_id, categories, view, decision, reason, "
    "request_id, detail, prev_hash, entry_hash, chain, seq"
)
_VALUES_FROM_HEAD = (
    "SELECT :at, :actor, :role, :purpose, :action, :customer_id, CAST(:categories AS JSON), "
    "CAST(:view AS JSON), :decision, :reason, :request_id, CAST(:detail AS JSON), "
    "h.entry_hash, encode(sha256(convert_to(h.entry_hash || '|[' || h.chain || ',' "
    "|| (h.seq + 1) || ',' || CAST(:rest AS TEXT), 'UTF8')), 'hex'), h.chain, h.seq + 1 FROM h "
    "RETURNING chain"
)
# They run on the driver's cursor (cdp.db.driver_sql), skipping SQLAlchemy's execution layer
# on the hottest write path.
_INSERT_ONE_FREE = DriverStatement(text(
    "WITH h AS (SELECT chain, seq, entry_hash FROM audit_chain_heads WHERE chain < :n "  # noqa: S608 - only module constants interpolated
    "ORDER BY (chain + :n - :start) % :n FOR UPDATE SKIP LOCKED LIMIT 1) "
    f"INSERT INTO audit_events ({_COLUMNS}) {_VALUES_FROM_HEAD}"
).bindparams(bindparam("at", type_=UTCDateTime())), names=("chain",))
# First try: one chain, picked at random, through the head table's primary key. The scan
# above reads every row version of the head table, and the heads are rewritten on every
# append: while a long transaction anywhere (a dump, an export, another database's session)
# holds back the removal of old versions, the table grows by a page every few dozen appends
# and each scan costs more (0.5 ms of PostgreSQL CPU per read after a few thousand reads
# was measured). The key lookup reads one row's versions; the scan is left for when the
# chain picked is busy.
_INSERT_ONE_AT = DriverStatement(text(
    "WITH h AS (SELECT chain, seq, entry_hash FROM audit_chain_heads WHERE chain = :c "  # noqa: S608 - only module constants interpolated
    "FOR UPDATE SKIP LOCKED) "
    f"INSERT INTO audit_events ({_COLUMNS}) {_VALUES_FROM_HEAD}"
).bindparams(bindparam("at", type_=UTCDateTime())), names=("chain",))
_INSERT_ONE_HELD = DriverStatement(text(
    "WITH h AS (SELECT chain, seq, entry_hash FROM audit_chain_heads WHERE chain = :c "  # noqa: S608 - only module constants interpolated
    "FOR UPDATE) "
    f"INSERT INTO audit_events ({_COLUMNS}) {_VALUES_FROM_HEAD}"
).bindparams(bindparam("at", type_=UTCDateTime())), names=("chain",))
_HEAD_PREFIX = len("[0,0,")


def _record_one_pg(session: Session, e: AuditEntry) -> bool:
    """Append one entry in one statement (two when the chain tried first is busy); False
    when every chain is busy (nothing written)."""
    at = utcnow()
    categories, view, detail = sorted(set(e.categories)), dict(e.view), dict(e.detail)
    cat_json, view_json, detail_json = json.dumps(categories), json.dumps(view), json.dumps(detail)
    body = canonical_text(
        0, 0, at, e.actor, e.role, e.purpose, e.action, e.customer_id, e.decision, e.reason,
        e.request_id, cat_json, view_json, detail_json,
    )
    params: dict[str, Any] = {
        "at": at, "actor": e.actor, "role": e.role, "purpose": e.purpose, "action": e.action,
        "customer_id": e.customer_id, "categories": cat_json, "view": view_json,
        "decision": e.decision, "reason": e.reason, "request_id": e.request_id,
        "detail": detail_json, "rest": body[_HEAD_PREFIX:],
    }
    # On the session's connection (same transaction): a text statement needs none of the
    # ORM session's execution layer, which this append runs on every customer read. Begun
    # before the transaction is looked up: a session that has not begun one has none (None),
    # which would match the None kept by an append made the same way in an earlier one.
    conn = session.connection()
    tx = session.get_transaction()
    held = session.info.get("cdp_audit_chain")
    if held is not None and held[0] is tx:
        [_held] = _INSERT_ONE_HELD.rows(conn, {**params, "c": held[1]})
        return True
    start = random.randrange(PG_CHAINS)  # noqa: S311 - load spreading
    rows = _INSERT_ONE_AT.rows(conn, {**params, "c": start})
    if not rows:  # that chain is busy: the first free one after it
        rows = _INSERT_ONE_FREE.rows(
            conn, {**params, "n": PG_CHAINS, "start": (start + 1) % PG_CHAINS}
        )
    if not rows:
        return False
    session.info["cdp_audit_chain"] = (tx, rows[0].chain)
    return True


# A session whose ``info`` holds a list under this key collects every entry appended through
# it (the web request's session: a refused request is rolled back and its refusals written
# again on their own, see cdp.http.lifecycle).
COLLECT_KEY = "cdp_audit_collect"
# A session whose ``info`` holds a string under this key (the web request's: the client's
# correlation id, cdp.http.context) adds it to every entry's ``detail.correlation_id``.
CORRELATION_KEY = "cdp_correlation_id"


# From this many entries in one call (an ingest batch's, one per customer written) the rows
# go in through ``insert_rows`` (COPY on PostgreSQL, the driver's executemany on SQLite)
# rather than one multi-row INSERT compiled by SQLAlchemy, whose per-row parameter handling
# was most of the cost of auditing an ingest batch.
BULK_ENTRIES = 100
_JSON_COLUMNS = frozenset({"categories", "view", "detail"})


def record(session: Session, *entries: AuditEntry) -> None:
    """Append ``entries`` to the audit log inside the caller's transaction.

    On PostgreSQL one statement for a single entry (the head locked and the entry inserted
    together), two for several (one locks and reads a chain head, one inserts every entry;
    a trigger moves the head). The entries become durable only if the caller's transaction
    commits: the audit row is part of the act it records.
    """
    if not entries:
        return
    correlation = session.info.get(CORRELATION_KEY)
    if correlation:
        entries = tuple(
            e if "correlation_id" in e.detail
            else replace(e, detail={**e.detail, "correlation_id": correlation})
            for e in entries
        )
    collected = session.info.get(COLLECT_KEY)
    if collected is not None:
        collected.extend(entries)
    pg = is_postgres(session)
    if pg and len(entries) == 1 and _record_one_pg(session, entries[0]):
        return
    chain, seq, prev = _pg_head(session) if pg else _sqlite_head(session)
    values: list[dict[str, Any]] = []
    at: datetime = utcnow()
    bulk = len(entries) >= BULK_ENTRIES
    for e in entries:
        seq += 1
        categories = sorted(set(e.categories))
        view, detail = dict(e.view), dict(e.detail)
        cat_json, view_json, detail_json = json.dumps(categories), json.dumps(view), json.dumps(detail)
        prev_hash = prev
        prev = chain_digest(
            prev_hash,
            canonical_text(
                chain, seq, at, e.actor, e.role, e.purpose, e.action, e.customer_id,
                e.decision, e.reason, e.request_id, cat_json, view_json, detail_json,
            ),
        )
        values.append({
            "at": at, "actor": e.actor, "role": e.role, "purpose": e.purpose,
            "action": e.action, "customer_id": e.customer_id,
            # the bulk path takes the JSON text the hash covers, as it is
            "categories": cat_json if bulk else categories, "view": view_json if bulk else view,
            "decision": e.decision, "reason": e.reason, "request_id": e.request_id,
            "detail": detail_json if bulk else detail, "prev_hash": prev_hash,
            "entry_hash": prev, "chain": chain, "seq": seq,
        })
    if bulk:
        insert_rows(session, AuditEvent.__table__, values,
                    as_is=_JSON_COLUMNS)
    else:
        # One INSERT for every entry (SQLAlchemy batches an executemany into multi-row
        # VALUES; no ORM unit of work, no RETURNING): one round trip per call.
        session.execute(_INSERT, values)
