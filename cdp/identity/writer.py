"""The writer of one batch: pending rows of new customers, records, identifiers, links,
interactions and consents; merges; then one flush of bulk inserts and the batch's audit
entries. ``move_customers`` is the one merge routine, shared with the data steward's merge.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String, bindparam, case, cast, null, or_, select, update
from sqlalchemy.orm import Session

from cdp.audit.log import AuditEntry, record
from cdp.crypto import fields
from cdp.crypto.models import DataKey
from cdp.db import is_postgres, new_id, utcnow
from cdp.db.bulk import insert_rows
from cdp.identity import hooks, summary
from cdp.identity.decision import Decision
from cdp.identity.evidence import Evidence
from cdp.identity.matching import Features
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
from cdp.identity.prepare import PreparedRecord
from cdp.identity.sqlparts import CHUNK, PG_PAIR_CHUNK, chunks, in_values


@dataclass
class BatchStats:
    new_customers: int = 0
    merges: int = 0
    # stored customers loaded as candidates (what blocking costs: each is read and decrypted)
    candidates: int = 0
    # of those, read from their records (no cached evidence, no valid stored summary)
    from_records: int = 0


class BatchWriter:
    """The rows one batch will write, kept in memory until ``flush``."""

    def __init__(self, session: Session, platform: Any, actor: str, ev: Evidence):
        self.session = session
        self.platform = platform
        self.actor = actor
        self.ev = ev
        self.stats = BatchStats()
        self.touched: dict[str, set[str]] = defaultdict(set)  # customer -> categories
        self.touched_records: dict[str, int] = defaultdict(int)
        self.now = utcnow()
        self.new_customers: list[dict[str, Any]] = []
        self.new_keys: list[dict[str, Any]] = []  # data_keys rows (column values)
        self.rows: dict[type, list[dict[str, Any]]] = defaultdict(list)
        self.updated_records: list[dict[str, Any]] = []
        self.lineage: list[dict[str, Any]] = []
        self.merged_pending: dict[str, str] = {}
        self.db_merges: list[Merge] = []  # stored customers merged in this batch
        self.pending_ids: set[str] = set()
        self.ciphers: dict[str, fields.FieldCipher] = {}  # data key id -> its keyed cipher

    def assign(self, decision: Decision) -> str:
        """The customer a decided record goes to: a new one, or the group merged into its first."""
        if not decision.group:
            return self.new_customer()
        target = decision.group[0]
        for other in decision.group[1:]:
            self.merge(target, other, decision.rule, decision.evidence, actor="system",
                       reason=None)
        return self.ev.final(target)

    def written(self) -> set[str]:
        """Customers this batch wrote (after merges)."""
        fin = self.ev.final
        return {fin(c) for c in self.touched} | {fin(c) for c in self.pending_ids}

    # -- customers ----------------------------------------------------------------------------
    def new_customer(self) -> str:
        cid = new_id()
        self.pending_ids.add(cid)
        self.new_customers.append(
            {"id": cid, "status": "active", "merged_into": None, "created_at": self.now,
             "updated_at": self.now}
        )
        self._new_key(cid)
        self.ev.features[cid] = Features()
        self.lineage.append(
            {"kind": "created", "customer_id": cid, "other_customer_id": None, "record_ids": [],
             "rule": None, "evidence": [], "actor": self.actor, "reason": None,
             "created_at": self.now}
        )
        self.stats.new_customers += 1
        return cid

    def _new_key(self, cid: str) -> None:
        """A fresh data key for ``cid``, inserted at flush (plain column values: one bulk
        insert, no ORM object per key)."""
        row, dek = self.platform.keys.new_key_values(cid)
        row["created_at"] = self.now
        row["destroyed_at"] = None
        self.new_keys.append(row)
        self.ev.keys[cid] = (row["id"], dek)

    def merge(self, target: str, other: str, rule: str, evidence: list[str], *, actor: str,
              reason: str | None) -> None:
        """Absorb ``other`` into ``target``: rows move, keys move (inherited values stay
        readable), links of moved records end and restart on ``target``."""
        target, other = self.ev.final(target), self.ev.final(other)
        if target == other:
            return
        moved_records: list[str] = []
        if target in self.pending_ids and other not in self.pending_ids:
            # The stored customer survives: rows already in the database need an existing
            # target, and the pending one is simply redirected before insert.
            target, other = other, target
        if other not in self.pending_ids:
            # Written at flush with every other merge of the batch (``move_customers``);
            # the lineage event's record ids are filled in there.
            self.db_merges.append((other, target, rule, list(evidence), actor, moved_records))
        else:
            self.merged_pending[other] = target
        self.ev.redirect[other] = target
        self.ev.merge_targets.add(target)
        if other in self.ev.forced:
            self.ev.forced.add(target)  # it now holds what was loaded for ``other``
        self.ev.writable(target).absorb(self.ev.features.pop(other))
        other_key = self.ev.keys.get(other)
        if other_key is not None:
            self.ev.keys.setdefault(target, other_key)
        self.touched[target] |= self.touched.pop(other, set())
        self.touched_records[target] += self.touched_records.pop(other, 0)
        self.lineage.append(
            {"kind": "merged", "customer_id": target, "other_customer_id": other,
             "record_ids": moved_records, "rule": rule, "evidence": list(evidence),
             "actor": actor, "reason": reason, "created_at": self.now}
        )
        self.stats.merges += 1

    # -- storage ------------------------------------------------------------------------------
    def store(self, p: PreparedRecord, record_id: str, customer_id: str, rule: str,
              evidence: list[str], score: float | None, existing: bool) -> None:
        """Queue the rows of record ``p`` (encrypted under its customer's data key)."""
        if customer_id not in self.ev.keys:
            # Every key of this customer was destroyed (erasure in progress): new values get
            # a fresh key rather than failing the batch.
            self._new_key(customer_id)
        key_id, dek = self.ev.keys[customer_id]
        cipher = self.ciphers.get(key_id)
        if cipher is None:
            cipher = self.ciphers[key_id] = fields.FieldCipher(dek)
        enc = cipher.encrypt
        aad = fields.field_aad
        rec = {
            "id": record_id,
            "source": p.source,
            "source_record_id": p.source_record_id,
            "customer_id": customer_id,
            "data_key_id": key_id,
            "observed_at": p.observed_at,
            "content_hmac": p.content_hmac,
            "profile_ct": enc(p.profile_json, aad("source_records", "profile_ct", record_id)),
            "orders_ct": enc(p.orders_json, aad("source_records", "orders_ct", record_id))
            if p.orders_json else None,
            "extra_ct": enc(p.extra_json, aad("source_records", "extra_ct", record_id))
            if p.extra_json else None,
            "extra_categories": p.extra_categories,
            "has_rx": p.has_rx,
            "created_at": self.now,
            "updated_at": self.now,
        }
        if existing:
            rec.pop("created_at")
            self.updated_records.append(rec)
        else:
            self.rows[SourceRecord].append(rec)
        for ident in p.identifiers:
            iid = new_id()
            self.rows[Identifier].append({
                "id": iid, "record_id": record_id, "customer_id": customer_id, "type": ident.type,
                "status": ident.status, "bidx": ident.bidx, "data_key_id": key_id,
                "value_ct": enc(ident.value.encode(), aad("identifiers", "value_ct", iid)),
            })
            if ident.bidx and ident.strength != "none":
                self.ev.index[(f"id:{ident.type}", ident.bidx)].add(customer_id)
        for kind, b in p.match_keys:
            self.rows[MatchKey].append(
                {"record_id": record_id, "customer_id": customer_id, "kind": kind, "bidx": b}
            )
            self.ev.index[(kind, b)].add(customer_id)
        self.rows[IdentityLink].append({
            "record_id": record_id, "customer_id": customer_id, "rule": rule,
            "evidence": list(evidence), "score": score, "actor": self.actor,
            "created_at": self.now, "ended_at": None,
        })
        for it in p.interactions:
            iid = new_id()
            self.rows[Interaction].append({
                "id": iid, "record_id": record_id, "customer_id": customer_id,
                "data_key_id": key_id, "kind": it["kind"], "at": it["at"],
                "text_ct": enc(it["text"].encode(), aad("interactions", "text_ct", iid)),
                "text_redacted_ct": enc(it["text_redacted"].encode(),
                                        aad("interactions", "text_redacted_ct", iid)),
                "entity_types": it["entity_types"],
            })
        for c in p.consents:
            self.rows[Consent].append({
                "customer_id": customer_id, "record_id": record_id, "purpose": c["purpose"],
                "granted": c["granted"], "at": c["at"] or p.observed_at or self.now,
                "channel": c.get("channel") or p.source, "version": c.get("version"),
                "created_at": self.now,
            })
        self.ev.writable(customer_id).absorb(p.features)
        self.touched[customer_id] |= p.categories
        self.touched_records[customer_id] += 1

    def flush(self) -> None:
        """Write every pending row (bulk inserts), the batch's merges and its audit entries."""
        s = self.session
        fin = self.ev.final
        for row in self.new_customers:
            row["evidence_key_id"], row["evidence_ct"] = self._summary(row["id"], self.now)
        insert_rows(s, Customer.__table__, self.new_customers)
        if self.new_keys:
            for k in self.new_keys:
                k["customer_id"] = fin(k["customer_id"])
            insert_rows(s, DataKey.__table__, self.new_keys)
        if self.merged_pending:
            # one executemany (pipelined by the driver), not a round trip per merge
            c = Customer.__table__
            s.execute(update(c).where(c.c.id == bindparam("o"))
                      .values(status="merged", merged_into=bindparam("t"), updated_at=self.now),
                      [{"o": o, "t": fin(t)} for o, t in self.merged_pending.items()])
        if self.db_merges:
            move_customers(s, self.db_merges, fin, self.now, pg=self.ev.pg, chunk=self.ev.chunk,
                           keep_links={r["id"] for r in self.updated_records},
                           platform=self.platform)
        for model in (SourceRecord, Identifier, MatchKey, IdentityLink, Interaction, Consent):
            rows = self.rows.get(model)
            if not rows:
                continue
            for r in rows:
                r["customer_id"] = fin(r["customer_id"])
            insert_rows(s, model.__table__, rows)
        if self.updated_records:
            # one executemany (the driver pipelines or batches it), not a statement per record;
            # parameters are prefixed: a bind may not share its column's name in SET
            t = SourceRecord.__table__
            cols = [k for k in self.updated_records[0] if k != "id"]
            s.execute(update(t).where(t.c.id == bindparam("p_id"))
                      .values({k: bindparam("p_" + k) for k in cols}),
                      [{"p_" + k: fin(v) if k == "customer_id" else v for k, v in rec.items()}
                       for rec in self.updated_records])
        if self.lineage:
            for ev in self.lineage:
                ev["customer_id"] = fin(ev["customer_id"]) if ev["kind"] != "merged" else ev["customer_id"]
            insert_rows(s, LineageEvent.__table__, self.lineage)
        touched = sorted({fin(c) for c in self.touched})
        self.write_summaries([c for c in touched if c not in self.pending_ids])
        if touched:
            entries = [
                AuditEntry(
                    actor=self.actor,
                    action="records.write",
                    customer_id=c,
                    categories=sorted(self.touched.get(c, set())),
                    detail={"records": self.touched_records.get(c, 0)},
                )
                for c in touched
            ]
            record(s, *entries)
        s.flush()

    def _summary(self, cid: str, updated_at: datetime) -> tuple[str | None, bytes | None]:
        """(key id, sealed summary) of ``cid``'s evidence as this batch leaves it, or
        (None, None) when it is not known whole (see ``Evidence.forced``) or has no key."""
        key = self.ev.keys.get(cid)
        if key is None or cid in self.ev.forced or cid in self.ev.redirect:
            return None, None
        cipher = self.ciphers.get(key[0])
        if cipher is None:
            cipher = self.ciphers[key[0]] = fields.FieldCipher(key[1])
        return key[0], summary.seal(cipher, cid, updated_at, self.ev.features[cid])

    def write_summaries(self, written: list[str]) -> None:
        """Move ``updated_at`` of the stored customers this batch wrote and store their
        summaries; end the summaries of the customers whose records left them (forced, not
        written); store one for each customer this batch loaded from its records and left
        unchanged, as of the ``updated_at`` it read (only if that is still the row's)."""
        s, ev, now = self.session, self.ev, self.now
        c = Customer.__table__
        rows = []
        for cid in written:
            kid, ct = self._summary(cid, now)
            rows.append({"p_id": cid, "p_at": ev.loaded_at.get(cid, now), "p_k": kid, "p_ct": ct})
        written_set = set(written)
        rows.extend({"p_id": cid, "p_at": now, "p_k": None, "p_ct": None}
                    for cid in sorted(ev.forced - written_set - ev.redirect.keys() - ev.inactive)
                    if cid not in self.pending_ids)
        if rows:
            # Stored only if the row is still as this batch read it (or as its own merges left
            # it): a steward's split or a correction committed meanwhile, outside the
            # resolution lock, moved updated_at, and what was loaded no longer says it whole.
            # SET expressions read the row before the update.
            same = or_(c.c.updated_at == bindparam("p_at"), c.c.updated_at == now)
            # one executemany (pipelined by the driver); parameters prefixed: a bind may not
            # share its column's name in SET
            s.execute(update(c).where(c.c.id == bindparam("p_id"))
                      .values(updated_at=now,
                              evidence_key_id=case((same, cast(bindparam("p_k"), String)),
                                                   else_=null()),
                              evidence_ct=case((same, cast(bindparam("p_ct"), LargeBinary)),
                                               else_=null())), rows)
        fill = []
        for cid in sorted(ev.loaded_full - written_set - ev.forced - ev.merge_targets
                          - ev.redirect.keys() - ev.inactive):
            at = ev.loaded_at[cid]
            kid, ct = self._summary(cid, at)
            if ct is not None:
                fill.append({"p_id": cid, "p_at": at, "p_k": kid, "p_ct": ct})
        if fill:
            # ``updated_at`` set to itself: the column's onupdate would move it otherwise
            s.execute(update(c).where(c.c.id == bindparam("p_id"), c.c.updated_at == bindparam("p_at"))
                      .values(updated_at=bindparam("p_at"), evidence_key_id=bindparam("p_k"),
                              evidence_ct=bindparam("p_ct")), fill)


# A merge of a stored customer: (other, target, rule, evidence kinds, actor, moved record ids;
# the last is filled in by ``move_customers``).
Merge = tuple[str, str, str, list[str], str, list[str]]


def move_customers(session: Session, merges: list[Merge], final: Callable[[str], str],
                   now: datetime, *, pg: bool, chunk: int, keep_links: Set[str] = frozenset(),
                   platform: Any = None) -> None:
    """Carry out merges of stored customers, a statement per table for all of them: rows and
    data keys move to the final survivor, the moved records' links end and restart there,
    merged customers (and those merged into them before) point at it. Records in
    ``keep_links`` get their new link elsewhere (a batch re-links the records it updates).
    Then the merge hooks of the capabilities above (cdp.identity.hooks) move their rows.

    The one merge routine: batch ingest and the data steward's merge both call it.
    """
    if not merges:
        return
    s, fin = session, final
    others = list(dict.fromkeys(m[0] for m in merges))
    owned: dict[str, list[str]] = defaultdict(list)
    for part in chunks(sorted(others), chunk):
        for rid, cid in s.execute(select(SourceRecord.id, SourceRecord.customer_id)
                                  .where(in_values(pg, SourceRecord.customer_id, list(part)))):
            owned[cid].append(rid)
    relink: dict[str, tuple[str, list[str], str]] = {}
    for other, target, rule, evidence, actor, moved in merges:
        recs = owned.pop(other, [])
        moved.extend(recs)
        owned[target].extend(recs)
        for r in recs:
            relink[r] = (rule, evidence, actor)
    pairs = [{"o": o, "t": fin(o)} for o in others]
    # identifiers, match keys and interactions follow their record (ON UPDATE CASCADE)
    for model in (SourceRecord, Consent, DataKey):
        t = model.__table__
        s.execute(update(t).where(t.c.customer_id == bindparam("o"))
                  .values(customer_id=bindparam("t")), pairs)
    relinked = sorted(r for r in relink if r not in keep_links)
    links = IdentityLink.__table__
    for part in chunks(relinked, chunk):
        s.execute(update(links)
                  .where(in_values(pg, links.c.record_id, list(part)), links.c.ended_at.is_(None))
                  .values(ended_at=now))
    new_links = []
    final_of = {r: fin(owner) for owner, recs in owned.items() for r in recs}
    for r in relinked:
        rule, evidence, actor = relink[r]
        new_links.append({"record_id": r, "customer_id": final_of[r],
                          "rule": f"merge:{rule}"[:64], "evidence": evidence, "score": None,
                          "actor": actor, "created_at": now, "ended_at": None})
    insert_rows(s, links, new_links)
    c = Customer.__table__
    s.execute(update(c).where(c.c.id == bindparam("o"))
              .values(status="merged", merged_into=bindparam("t"), updated_at=now), pairs)
    s.execute(update(c).where(c.c.merged_into == bindparam("o"))
              .values(merged_into=bindparam("t")), pairs)
    # The survivors' evidence changed: their updated_at says so (EvidenceCache validity).
    survivors = sorted({p["t"] for p in pairs})
    for part in chunks(survivors, chunk):
        s.execute(update(c).where(in_values(pg, c.c.id, list(part))).values(updated_at=now))
    hooks.merged(s, platform, [(p["o"], p["t"]) for p in pairs], now)


def merge_rows(session: Session, other: str, target: str, rule: str, evidence: list[str],
               actor: str, now: datetime, *, platform: Any = None) -> list[str]:
    """Merge stored customer ``other`` into ``target`` (the steward's merge); returns the ids
    of the records that moved."""
    moved: list[str] = []
    pg = is_postgres(session)
    move_customers(session, [(other, target, rule, list(evidence), actor, moved)],
                   lambda c: target if c == other else c, now,
                   pg=pg, chunk=PG_PAIR_CHUNK if pg else CHUNK, platform=platform)
    return moved
