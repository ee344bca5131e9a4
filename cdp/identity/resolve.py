"""Resolving and storing one batch of prepared records, in the caller's session.

Per batch: one advisory lock (PostgreSQL) so concurrent ingesters resolve one after the
other; the stored versions of the batch's records; the candidates' evidence loaded in a
handful of set-based queries (``evidence``); each record decided in order against that
in-memory state, so records of one batch link to each other (``decision``); every row
written in bulk (``writer``). Every link stores its rule and evidence kinds, never values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from cdp.db import is_postgres, new_id
from cdp.identity.decision import decide
from cdp.identity.evidence import Evidence, EvidenceCache
from cdp.identity.models import Consent, Identifier, IdentityLink, Interaction, MatchKey, SourceRecord
from cdp.identity.prepare import PreparedRecord
from cdp.identity.rules import IdentityRules, load_rules
from cdp.identity.sqlparts import PG_PAIR_CHUNK, chunks, in_values
from cdp.identity.writer import BatchStats, BatchWriter

# pg_advisory_xact_lock key serialising identity resolution ("cdpident").
RESOLVE_LOCK = 0x6364706964656E74

_STORED_SQL = text(
    "SELECT r.id, r.source, r.source_record_id, r.customer_id, r.content_hmac, r.observed_at"
    " FROM source_records r"
    " JOIN unnest(CAST(:sources AS varchar[]), CAST(:srids AS varchar[])) AS v(source, srid)"
    " ON r.source = v.source AND r.source_record_id = v.srid"
)




@dataclass
class RecordResult:
    source: str
    source_record_id: str
    status: str  # created | updated | unchanged
    customer_id: str
    rule: str | None = None


@dataclass
class Stored:
    """The stored version of a source record."""

    record_id: str
    customer_id: str
    content_hmac: str
    observed_at: datetime | None


def lock_resolution(session: Session) -> None:
    """Serialise resolution across processes until this transaction ends (PostgreSQL).

    SQLite serialises writers itself; its lock is taken by the first write of the batch."""
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": RESOLVE_LOCK})
    else:
        # Take SQLite's write lock now, before reading, so two processes cannot both resolve
        # against the same snapshot.
        session.execute(text("UPDATE customers SET id = id WHERE 0"))


def stored_records(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Stored]:
    """The stored version of each of ``keys`` (source, source_record_id) that is stored."""
    found: dict[tuple[str, str], Stored] = {}
    if is_postgres(session):
        # Exact pairs joined to an unnest, as for identifiers: with two IN lists PostgreSQL
        # took the unique index on ``source`` alone and filtered every record of the batch's
        # sources, which grew with the table.
        for part in chunks(sorted(keys), PG_PAIR_CHUNK):
            for rid, src, srid, cid, h, seen in session.execute(_STORED_SQL, {
                "sources": [k[0] for k in part], "srids": [k[1] for k in part]}):
                found[(src, srid)] = Stored(rid, cid, h, seen)
        return found
    srids = sorted({k[1] for k in keys})
    sources = sorted({k[0] for k in keys})
    for srid_part in chunks(srids):
        # source first: the (source, source_record_id) unique index serves both IN lists
        for rid, src, srid, cid, h, seen in session.execute(
            select(SourceRecord.id, SourceRecord.source, SourceRecord.source_record_id,
                   SourceRecord.customer_id, SourceRecord.content_hmac, SourceRecord.observed_at)
            .where(SourceRecord.source.in_(sources), SourceRecord.source_record_id.in_(srid_part))
        ):
            if (src, srid) in keys:
                found[(src, srid)] = Stored(rid, cid, h, seen)
    return found



def _older(p: PreparedRecord, stored: Stored) -> bool:
    """Whether ``p`` is an older version than the one stored (both dated, ``p`` earlier)."""
    return (p.observed_at is not None and stored.observed_at is not None
            and p.observed_at < stored.observed_at)


def ingest_batch(session: Session, platform: Any, prepared: list[PreparedRecord], *, actor: str,
                 rules: IdentityRules | None = None,
                 cache: EvidenceCache | None = None) -> tuple[list[RecordResult], BatchStats]:
    """Resolve and store ``prepared`` (keys unique within the batch) in ``session``.

    Flushes, never commits. Unchanged records (same content HMAC) are left alone, and so is a
    version older than the stored one (by ``observed_at``): the newest version wins whatever
    the order it arrives in. With a
    ``cache``, what the batch knows of its customers goes into it once flushed (see
    ``EvidenceCache``).
    """
    rules = rules or load_rules(platform.policies)
    lock_resolution(session)
    existing = stored_records(session, {p.key for p in prepared})
    results: list[RecordResult] = []
    todo: list[PreparedRecord] = []
    for p in prepared:
        ex = existing.get(p.key)
        if ex is not None and (ex.content_hmac == p.content_hmac or _older(p, ex)):
            results.append(RecordResult(p.source, p.source_record_id, "unchanged", ex.customer_id))
        else:
            todo.append(p)
    ev = Evidence(session, platform, rules, cache)
    w = BatchWriter(session, platform, actor, ev)
    if not todo:
        return results, w.stats
    updates = [existing[p.key] for p in todo if p.key in existing]
    if updates:
        ids = [u.record_id for u in updates]
        for part in chunks(ids, ev.chunk):
            for model in (Identifier, MatchKey, Interaction, Consent):
                session.execute(model.__table__.delete()
                                .where(in_values(ev.pg, model.record_id, list(part))))
    ev.load(todo, [u.customer_id for u in updates])
    w.stats.candidates += len(ev.loaded_at) + len(ev.inactive)
    w.stats.from_records += len(ev.loaded_full)
    # The updated content is re-resolved: the old link ends, the new one (written at flush)
    # says why the record belongs where it is now (history kept).
    links = IdentityLink.__table__
    for part in chunks(sorted(u.record_id for u in updates), ev.chunk):
        session.execute(update(links)
                        .where(in_values(ev.pg, links.c.record_id, list(part)),
                               links.c.ended_at.is_(None))
                        .values(ended_at=w.now))
    for p in todo:
        ex = existing.get(p.key)
        decision = decide(p, ex.customer_id if ex else None, ev, rules)
        cid = w.assign(decision)
        rule = decision.rule
        if ex is not None and rule.startswith("deterministic:update"):
            rule = "update"
        record_id = ex.record_id if ex else new_id()
        w.store(p, record_id, cid, rule, decision.evidence, decision.score, existing=ex is not None)
        results.append(RecordResult(p.source, p.source_record_id,
                                    "updated" if ex else "created", cid, rule))
    w.flush()
    for res in results:
        res.customer_id = ev.final(res.customer_id)
    ev.remember(w.written(), w.now)
    return results, w.stats
