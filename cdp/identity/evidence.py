"""Candidate evidence of one batch: which stored customers its blind indexes touch, what
each of them says about the person (decrypted normal forms: from the customer's stored
summary when it has a valid one, cdp.identity.summary, else from its records), and their
data keys.

``Evidence`` loads that with a handful of set-based queries per batch and keeps the batch's
union-find of merges; ``EvidenceCache`` keeps it across the batches of one ingest.
"""

from __future__ import annotations

import json
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cdp.crypto import fields
from cdp.crypto.models import DataKey
from cdp.db import is_postgres
from cdp.identity import normalize as nz
from cdp.identity import summary
from cdp.identity.decision import blocked
from cdp.identity.identifiers import profile_features
from cdp.identity.matching import Features, national_id_features
from cdp.identity.models import Customer, Identifier, MatchKey, SourceRecord
from cdp.identity.prepare import PreparedRecord
from cdp.identity.rules import IdentityRules
from cdp.identity.sqlparts import CHUNK, PG_PAIR_CHUNK, chunks, in_values

# One row per pair with its holders in an array: the holders of common values grow with the
# customers, and a result row per holder is Python work per holder, where the driver parses
# an array in C.
_ID_PAIRS_SQL = text(
    "SELECT i.type, i.bidx, array_agg(i.customer_id) FROM identifiers i"
    " JOIN unnest(CAST(:kinds AS varchar[]), CAST(:bidxs AS varchar[])) AS v(kind, bidx)"
    " ON i.type = v.kind AND i.bidx = v.bidx WHERE i.status = 'valid' GROUP BY i.type, i.bidx"
)
# Match keys are blocking evidence: a value held by more than ``max_block_size`` customers
# (a common name, a popular birth date) is never used, so at most cap + 1 distinct holders
# per value are read; that many already says "too many". Per value, a scan of the (kind,
# bidx, customer_id) index that stops at the cap: the holders of a common name grow with the
# database (thousands at a million customers), and reading them all, to sort and cut them
# afterwards, was the part of the server's work per batch that grew with it. OFFSET 0 keeps
# the subquery from being flattened into the filter, which would run it twice per value.
_MK_PAIRS_SQL = text(
    "SELECT kind, bidx, holders FROM (SELECT v.kind, v.bidx, ARRAY(SELECT DISTINCT"
    " m.customer_id FROM match_keys m WHERE m.kind = v.kind AND m.bidx = v.bidx"
    " ORDER BY m.customer_id LIMIT :cap) AS holders"
    " FROM unnest(CAST(:kinds AS varchar[]), CAST(:bidxs AS varchar[])) AS v(kind, bidx)"
    " OFFSET 0) w WHERE cardinality(holders) > 0"
)


# SQLite's form of the same, per kind: the values as a JSON array, the holders of each joined
# by commas (SQLite has no arrays).
_MK_VALUES_SQLITE = (
    "SELECT j.value, (SELECT group_concat(customer_id, ',') FROM (SELECT DISTINCT customer_id"
    " FROM match_keys m WHERE m.kind = ? AND m.bidx = j.value ORDER BY customer_id LIMIT ?))"
    " FROM json_each(?) j"
)


class EvidenceCache:
    """Evidence (features) and current data key of customers that earlier batches of one
    ingest loaded or wrote, reused while the customer's row is unchanged.

    Loading a candidate customer means reading its identifiers, match keys, data keys and
    every source record, and decrypting the profiles: most of a batch's reading, and the same
    customers (common names, shared birth dates, family phones) are candidates batch after
    batch. An entry is valid only for the ``updated_at`` it was taken at: every change to a
    customer's evidence moves ``updated_at`` (ingest stores, merges, steward merge and split,
    correction, erasure), so a change made by another process is seen and reloaded.

    Entries are added as soon as a batch is flushed, before its transaction commits, so the
    next resolution round of the same transaction reuses them. That is safe if the
    transaction rolls back: an entry for a customer the batch wrote is keyed to the batch's
    own ``updated_at``, which then never reaches the database, so it can never be valid; an
    entry for a customer the batch only read is keyed to the ``updated_at`` it read, true
    either way. Bounded (LRU): it holds decrypted normal forms and data keys in this
    process's memory, as a batch does, for longer.
    """

    def __init__(self, limit: int = 20_000):
        self.limit = limit
        self._entries: OrderedDict[str, tuple[datetime, Features, tuple[str, bytes] | None]] = (
            OrderedDict()
        )
        self.hits = 0
        self.misses = 0

    def get(self, cid: str, updated_at: datetime) -> tuple[Features, tuple[str, bytes] | None] | None:
        e = self._entries.get(cid)
        if e is None or e[0] != updated_at:
            self.misses += 1
            return None
        self._entries.move_to_end(cid)
        self.hits += 1
        return e[1], e[2]  # shared: ``Evidence.writable`` copies before a change

    def put(self, cid: str, updated_at: datetime, features: Features,
            key: tuple[str, bytes] | None) -> None:
        # Not copied: the batch that hands it over is finished with it, and a batch that
        # takes it from ``get`` copies it before changing it (``Evidence.writable``).
        self._entries[cid] = (updated_at, features, key)
        self._entries.move_to_end(cid)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)

    def drop(self, cid: str) -> None:
        self._entries.pop(cid, None)

    def __len__(self) -> int:
        return len(self._entries)



class Evidence:
    """What one batch knows of the stored customers it touches, and of its own merges."""

    def __init__(self, session: Session, platform: Any, rules: IdentityRules,
                 cache: EvidenceCache | None = None):
        self.session = session
        self.pg = is_postgres(session)
        self.chunk = PG_PAIR_CHUNK if self.pg else CHUNK
        self.cache = cache
        self.platform = platform
        self.rules = rules
        self.loaded_at: dict[str, datetime] = {}  # customer -> updated_at as loaded
        self.merge_targets: set[str] = set()
        self.shared: set[str] = set()  # features taken from the cache, copied on first change
        self.index: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.features: dict[str, Features] = {}
        self.keys: dict[str, tuple[str, bytes]] = {}  # customer -> (data key id, key)
        self.redirect: dict[str, str] = {}
        self.inactive: set[str] = set()
        # customers whose stored records changed hands or content in this batch: what was
        # loaded for them still counts the old content, so it is neither cached nor stored
        self.forced: set[str] = set()
        self.loaded_full: set[str] = set()  # loaded from their records (no usable summary)
        self.from_summary = 0  # loaded from their stored summary

    # -- union-find over merges ---------------------------------------------------------------
    def final(self, cid: str) -> str:
        while cid in self.redirect:
            cid = self.redirect[cid]
        return cid

    def writable(self, cid: str) -> Features:
        """``cid``'s features, copied first if they are still the cache's."""
        if cid in self.shared:
            self.shared.discard(cid)
            self.features[cid] = self.features[cid].copy()
        return self.features[cid]

    def holders(self, kind: str, bidx: str) -> set[str]:
        return {self.final(c) for c in self.index.get((kind, bidx), ())} - self.inactive

    # -- loading ------------------------------------------------------------------------------
    def load(self, prepared: list[PreparedRecord], forced: Iterable[str]) -> None:
        id_keys = {(f"id:{i.type}", i.bidx) for p in prepared for i in p.identifiers
                   if i.bidx and i.strength != "none"}
        mk_keys = {(k, b) for p in prepared for k, b in p.match_keys}
        self.look_up(id_keys, mk_keys)
        self.forced.update(forced)
        candidates: set[str] = set(self.forced)
        for (kind, _), cs in self.index.items():
            if kind.startswith("id:"):
                candidates |= cs
        # only the customers some record's blocking would score: each one loaded costs reading
        # and decrypting all its records
        empty: set[str] = set()
        for p in prepared:
            candidates |= blocked(p.match_keys, lambda k, b: self.index.get((k, b), empty),
                                  self.rules)
        self._load_customers(sorted(candidates))

    def look_up(self, id_keys: set[tuple[str, str]], mk_keys: set[tuple[str, str]]) -> None:
        """Add the stored holders of these identifier (``id:<type>``) and match-key pairs to
        ``index``: every holder of a valid identifier, at most ``max_block_size`` + 1 of a
        match key (in customer id order)."""
        if is_postgres(self.session):
            # Exact (type, bidx) / (kind, bidx) pairs joined to an unnest: one index probe per
            # pair. With two IN lists PostgreSQL (no statistics yet on fresh tables) probes the
            # index on the type / kind alone and filters every row of those kinds, which grows
            # with the table and was most of the server's time during ingest.
            self._pairs_pg(_ID_PAIRS_SQL, {(k.removeprefix("id:"), b) for k, b in id_keys}, "id:")
            self._pairs_pg(_MK_PAIRS_SQL, mk_keys, "")
        else:
            self._pairs_in_lists(id_keys, mk_keys)

    def _pairs_pg(self, sql: Any, pairs: set[tuple[str, str]], prefix: str) -> None:
        for part in chunks(sorted(pairs), PG_PAIR_CHUNK):
            rows = self.session.execute(
                sql, {"kinds": [k for k, _ in part], "bidxs": [b for _, b in part],
                      "cap": self.rules.max_block_size + 1}
            )
            for k, b, cs in rows:
                self.index[(prefix + k, b)].update(cs)

    def _pairs_in_lists(self, id_keys: set[tuple[str, str]], mk_keys: set[tuple[str, str]]) -> None:
        """SQLite: the holders of each (type, bidx) / (kind, bidx) pair, one statement per
        type or kind and chunk of values. With IN lists of both columns SQLite probes every
        type x value combination; per type, only the pairs asked for."""
        conn = self.session.connection()
        for (kind, bidx), holder in self._by_kind(
            id_keys, "SELECT type, bidx, customer_id FROM identifiers"
            " WHERE type = ? AND bidx IN ({}) AND status = 'valid'", conn, strip="id:"):
            self.index[(kind, bidx)].add(holder)
        # at most cap + 1 distinct holders per value, each value's index scan stopping there
        # (see _MK_PAIRS_SQL); customer ids are hex, so a comma joins them safely
        cap = self.rules.max_block_size + 1
        for kind, part in self._kind_chunks(mk_keys):
            for b, holders in conn.exec_driver_sql(_MK_VALUES_SQLITE, (kind, cap, json.dumps(part))):
                if holders:
                    self.index[(kind, b)].update(holders.split(","))

    @staticmethod
    def _kind_chunks(pairs: set[tuple[str, str]]) -> Iterable[tuple[str, Sequence[str]]]:
        """(kind, chunk of its values), kinds and values in order."""
        values: dict[str, list[str]] = defaultdict(list)
        for kind, bidx in pairs:
            values[kind].append(bidx)
        for kind, bidxs in sorted(values.items()):
            bidxs.sort()
            for part in chunks(bidxs):
                yield kind, part

    @classmethod
    def _by_kind(cls, pairs: set[tuple[str, str]], sql: str, conn: Any,
                 strip: str = "") -> Iterable[tuple[tuple[str, str], str]]:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        for kind, part in cls._kind_chunks(pairs):
            stmt = sql.replace("?", mark).format(", ".join([mark] * len(part)))
            for _, b, c in conn.exec_driver_sql(stmt, (kind.removeprefix(strip), *part)):
                yield (kind, b), c

    def _load_customers(self, ids: list[str]) -> None:
        # Core execution on the session's connection: these are plain column selects, and the
        # ORM's result machinery (Session.execute) cost more than the rows' own handling
        conn = self.session.connection()
        live: list[str] = []
        sealed: dict[str, tuple[str, bytes]] = {}  # customer -> (key id, stored summary)
        for part in chunks(ids, self.chunk):
            for cid, status, updated_at, ect, ekid in conn.execute(
                select(Customer.id, Customer.status, Customer.updated_at, Customer.evidence_ct,
                       Customer.evidence_key_id)
                .where(in_values(self.pg, Customer.id, part))
            ):
                if status not in ("active", "restricted"):
                    self.inactive.add(cid)
                    continue
                self.loaded_at[cid] = updated_at
                hit = self.cache.get(cid, updated_at) if self.cache is not None else None
                if hit is not None:
                    self.features[cid], key = hit
                    self.shared.add(cid)
                    if key is not None:
                        self.keys[cid] = key
                    continue
                self.features[cid] = Features()
                live.append(cid)
                if ect is not None and ekid is not None:
                    sealed[cid] = (ekid, ect)
        live.sort()
        key_rows: dict[str, Any] = {}
        seen_keys: dict[str, Any] = {}
        for part in chunks(live, self.chunk):
            # plain rows, not ORM objects: KeyService.unwrap needs id, kek_version, wrapped
            for row in conn.execute(
                select(DataKey.id, DataKey.customer_id, DataKey.kek_version, DataKey.wrapped,
                       DataKey.created_at)
                .where(in_values(self.pg, DataKey.customer_id, part), DataKey.wrapped.is_not(None))
            ):
                seen_keys[row.id] = row
                prev = key_rows.get(row.customer_id)
                if prev is None or row.created_at > prev.created_at:
                    key_rows[row.customer_id] = row
        deks = self._deks({kid for kid, _ in sealed.values()} & seen_keys.keys(), seen_keys)
        ciphers = {kid: fields.FieldCipher(dek) for kid, dek in deks.items()}
        full: list[str] = []
        for cid in live:
            stored = sealed.get(cid)
            feats = None
            if stored is not None and stored[0] in ciphers:
                feats = summary.open_sealed(ciphers[stored[0]], cid, self.loaded_at[cid], stored[1])
            if feats is None:
                full.append(cid)
            else:
                self.features[cid] = feats
                self.from_summary += 1
        self.loaded_full.update(full)
        nid_rows: list[tuple[str, str, str, bytes]] = []
        strength_of = self.rules.strength_of
        recs: list[tuple[str, str, str, bytes | None]] = []
        for part in chunks(full, self.chunk):
            # Filtered on customer_id only, the rest in Python: with a constant ``type`` or
            # ``kind`` in the WHERE clause SQLite picks the (type, bidx) / (kind, bidx) index and
            # scans every national ID / masked phone in the table for each batch.
            for iid, t, b, c, kid, ct in conn.execute(
                select(Identifier.id, Identifier.type, Identifier.bidx, Identifier.customer_id,
                       Identifier.data_key_id, Identifier.value_ct).where(
                    in_values(self.pg, Identifier.customer_id, part), Identifier.status == nz.VALID
                )
            ):
                if b and strength_of(t) != "none":
                    self.features[c].ids.setdefault(t, set()).add(b)
                if t == "national_id":
                    nid_rows.append((iid, c, kid, ct))
            # Only the masked phones are evidence here (the other keys were for blocking).
            # PostgreSQL filters them on the customer_id index; SQLite would again pick the
            # (kind, bidx) index for a constant kind.
            mk_where = [in_values(self.pg, MatchKey.customer_id, part)]
            if self.pg:
                mk_where.append(MatchKey.kind == "phone_ps")
            for c, k, b in conn.execute(
                select(MatchKey.customer_id, MatchKey.kind, MatchKey.bidx).where(*mk_where)
            ):
                if k == "phone_ps":
                    self.features[c].phone_ps.add(b)
            recs.extend(
                conn.execute(
                    select(
                        SourceRecord.id,
                        SourceRecord.customer_id,
                        SourceRecord.data_key_id,
                        SourceRecord.profile_ct,
                    ).where(in_values(self.pg, SourceRecord.customer_id, part))
                ).tuples()
            )
        more = self._deks(({r[2] for r in recs} | {r[2] for r in nid_rows}) - deks.keys(),
                          seen_keys)
        deks.update(more)
        # one keyed cipher per data key: a customer's values are mostly under one key
        ciphers.update((kid, fields.FieldCipher(dek)) for kid, dek in more.items())
        # Normal forms of decrypted stored values are memoised for this load only: the
        # process-wide normaliser caches would otherwise fill with every stored customer's
        # plaintext the ingest ever reloads (memory growing up to their caps); repeats across
        # batches are the evidence cache's business.
        with nz.private_memo():
            self._absorb_stored(nid_rows, recs, ciphers)
        for cid, row in key_rows.items():
            dek = deks.get(row.id)  # mostly unwrapped above, for the customer's records
            self.keys[cid] = (row.id, dek if dek is not None else self.platform.keys.unwrap(row))

    def _absorb_stored(self, nid_rows: list[tuple[str, str, str, bytes]],
                       recs: list[tuple[str, str, str, bytes | None]],
                       ciphers: dict[str, fields.FieldCipher]) -> None:
        for iid, cid, kid, ct in nid_rows:
            if kid not in ciphers:
                continue
            raw = ciphers[kid].decrypt(ct, fields.field_aad("identifiers", "value_ct", iid))
            self.features[cid].absorb(national_id_features(raw.decode()))
        for rid, cid, kid, profile_ct in recs:
            if profile_ct is None or kid not in ciphers:
                continue
            aad = fields.field_aad("source_records", "profile_ct", rid)
            profile = json.loads(ciphers[kid].decrypt(profile_ct, aad).decode("utf-8"))
            self.features[cid].absorb(profile_features(profile))
            # national-ID-derived birth dates are already implied by the identifiers

    def _deks(self, key_ids: set[str], known: dict[str, Any]) -> dict[str, bytes]:
        """Unwrapped data keys by id (destroyed ones left out); rows already read in
        ``known`` are not read again."""
        unwrap = self.platform.keys.unwrap
        out = {k: unwrap(known[k]) for k in key_ids if k in known}
        for part in chunks(sorted(key_ids - known.keys()), self.chunk):
            for row in self.session.connection().execute(
                select(DataKey.id, DataKey.kek_version, DataKey.wrapped)
                .where(in_values(self.pg, DataKey.id, part), DataKey.wrapped.is_not(None))
            ):
                out[row.id] = unwrap(row)
        return out

    def remember(self, written: set[str], now: datetime) -> None:
        """Once flushed: what this batch knows of each customer it loaded or wrote goes into
        the cache, under the ``updated_at`` the customer row now has (``now`` for those it
        ``written``)."""
        if self.cache is None:
            return
        for cid in self.redirect:
            self.cache.drop(cid)
        for cid, feats in self.features.items():
            if cid in self.redirect or cid in self.inactive:
                continue
            if cid in self.forced:
                self.cache.drop(cid)
            elif cid in written:
                self.cache.put(cid, now, feats, self.keys.get(cid))
            elif cid in self.merge_targets or cid not in self.loaded_at:
                self.cache.drop(cid)
            else:
                self.cache.put(cid, self.loaded_at[cid], feats, self.keys.get(cid))
