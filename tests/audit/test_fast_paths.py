"""The fast writer and verifier keep every property of the slow ones.

Writer: two statements per ``record()`` call on PostgreSQL however many entries, chains
stay gap-free under concurrent writers, and the database refuses an entry that does not
extend its chain head. Verifier: values that need escaping (quotes, backslashes, control
characters, non-ASCII, NULLs, a timestamp on a whole second) verify intact, tampering with
exactly those rows is still named, and rows stored out of physical order are not a false
alarm.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from cdp.audit.log import BULK_ENTRIES, GENESIS, AuditEntry, entry_digest, record
from cdp.audit.models import AuditChainHead, AuditEvent
from cdp.audit.verify import verify_log
from cdp.db import is_postgres
from cdp.db.bulk import insert_rows
from cdp.platform import Platform
from tests.audit.helpers import tamper, triggers_dropped, write_entries
from tests.statements import statements_on

TRICKY = [
    AuditEntry(
        actor='apikey:"quoted"',
        action="breakglass.grant",
        role="pharmacist",
        purpose="pharmacy_care",
        customer_id="c1",
        reason='Patient said "urgent"\nback\\slash\ttab \x01 end',
        request_id=None,
        detail={"note": 'a "b" \\ c', "zh": "处方 复核", "emoji": "💊"},
        categories=["health"],
        view={"health": "plain"},
    ),
    AuditEntry(actor="apikey:plain", action="customers.read", reason="ASCII only"),
    AuditEntry(actor="apikey:héllo", action="customers.read", detail={"k": "ä"}),
]


def _verify(platform: Platform, **kw: object):  # type: ignore[no-untyped-def]
    with platform.transaction() as s:
        return verify_log(s, platform.keyring.verify_key, **kw)  # type: ignore[arg-type]


def _insert_whole_second_entry(platform: Platform) -> int:
    """An entry at 12:00:00.000000 (isoformat omits the fraction), appended as the writer would."""
    with platform.transaction() as s:
        if is_postgres(s):
            chain, seq, prev = s.execute(
                text(
                    "SELECT chain, seq, entry_hash FROM audit_chain_heads WHERE chain = 0 FOR UPDATE"
                )
            ).one()
        else:
            chain = 0
            last = s.execute(
                select(AuditEvent.seq, AuditEvent.entry_hash)
                .where(AuditEvent.chain == 0)
                .order_by(AuditEvent.seq.desc())
                .limit(1)
            ).first()
            seq, prev = last if last else (0, GENESIS)
        row = AuditEvent(
            at=datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC),
            actor="apikey:x",
            role=None,
            purpose=None,
            action="audit.test",
            customer_id=None,
            categories=[],
            view={},
            decision="allow",
            reason=None,
            request_id=None,
            detail={},
            prev_hash=prev,
            chain=chain,
            seq=seq + 1,
        )
        row.entry_hash = entry_digest(prev, row)
        s.add(row)
        s.flush()
        return row.id


def test_values_needing_escapes_verify_and_their_tampering_is_named(platform: Platform) -> None:
    write_entries(platform, 3)
    with platform.transaction() as s:
        record(s, *TRICKY)
    _insert_whole_second_entry(platform)
    write_entries(platform, 2)
    res = _verify(platform)
    assert res.ok, res.summary()
    assert res.entries == 3 + len(TRICKY) + 1 + 2

    with platform.transaction() as s:
        victim = s.scalar(select(AuditEvent.id).where(AuditEvent.actor == 'apikey:"quoted"'))
    # Change one character inside the escaped free text: still caught, and named.
    tamper(
        platform,
        "UPDATE audit_events SET reason = replace(reason, 'urgent', 'routine') WHERE id = :i",
        i=victim,
    )
    res = _verify(platform)
    assert not res.ok and res.first_bad is not None
    assert res.first_bad.entry_id == victim and "altered" in res.first_bad.message


def test_bulk_appends_verify_and_their_tampering_is_named(platform: Platform) -> None:
    """An ingest batch's entries (``BULK_ENTRIES`` or more: COPY on PostgreSQL, executemany on
    SQLite) chain exactly as the small path does, with the same escaping, and the database's
    head check still applies to them."""
    n = BULK_ENTRIES + 7
    bulk = [TRICKY[i % len(TRICKY)] for i in range(n)]
    write_entries(platform, 2)
    with platform.transaction() as s:
        record(s, *bulk)
        record(s, *bulk[:2])  # the small path continues the chain the bulk one left
    with platform.transaction() as s:
        record(s, *bulk)
    res = _verify(platform)
    assert res.ok, res.summary()
    assert res.entries == 2 + n + 2 + n

    with platform.transaction() as s:
        victims = list(s.scalars(select(AuditEvent.id).where(AuditEvent.actor == "apikey:héllo")
                                 .order_by(AuditEvent.id)))
    tamper(platform, "UPDATE audit_events SET actor = 'apikey:hello' WHERE id = :i", i=victims[-5])
    res = _verify(platform)
    assert not res.ok and res.first_bad is not None
    assert res.first_bad.entry_id == victims[-5] and "altered" in res.first_bad.message


def test_bulk_append_from_a_stale_head_is_refused(platform: Platform) -> None:
    if not is_postgres(platform.engine):
        pytest.skip("SQLite writers hold the database lock: no other writer can move the head")
    write_entries(platform, 1)
    with platform.transaction() as s:
        chain, seq, head = s.execute(text(
            "SELECT chain, seq, entry_hash FROM audit_chain_heads WHERE seq > 0")).one()
        rows = []
        prev = GENESIS  # not the head: a writer that computed its hashes from a stale head
        for i in range(BULK_ENTRIES):
            row = AuditEvent(at=datetime(2026, 3, 1, tzinfo=UTC), actor="apikey:x", role=None,
                             purpose=None, action="audit.test", customer_id=None, categories=[],
                             view={}, decision="allow", reason=None, request_id=None, detail={},
                             prev_hash=prev, chain=chain, seq=seq + 1 + i)
            row.entry_hash = prev = entry_digest(prev, row)
            rows.append({c.name: getattr(row, c.name) for c in AuditEvent.__table__.c
                         if c.name != "id"})
        assert head != GENESIS
        with pytest.raises(DBAPIError, match="does not extend its chain head"):
            insert_rows(s, AuditEvent.__table__, rows)


def test_whole_second_timestamp_tampering_is_caught(platform: Platform) -> None:
    victim = _insert_whole_second_entry(platform)
    assert _verify(platform).ok
    tamper(
        platform,
        "UPDATE audit_events SET at = at + interval '1 microsecond' WHERE id = :i"
        if is_postgres(platform.engine)
        else "UPDATE audit_events SET at = '2026-03-01 12:00:00.000001' WHERE id = :i",
        i=victim,
    )
    res = _verify(platform)
    assert not res.ok and res.first_bad is not None and res.first_bad.entry_id == victim


def test_rows_stored_out_of_physical_order_are_not_a_false_alarm(platform: Platform) -> None:
    """Inserts may land before older rows (space freed by vacuum): the physical-order pass
    waits for each row's predecessor instead of reporting it."""
    built = []
    prev = GENESIS
    for seq in range(1, 6):
        row = AuditEvent(
            at=datetime(2026, 3, 1, 12, 0, seq, 5, tzinfo=UTC),
            actor="apikey:y",
            role="analyst",
            purpose="analytics",
            action="customers.read",
            customer_id=f"c{seq}",
            categories=["contact"],
            view={"contact": "masked"},
            decision="allow",
            reason=None,
            request_id=None,
            detail={},
            prev_hash=prev,
            chain=3,
            seq=seq,
        )
        row.entry_hash = prev = entry_digest(prev, row)
        built.append(row)
    cols = [c.key for c in AuditEvent.__table__.columns if c.key != "id"]
    # As the owner, bypassing the head trigger: newest first on disk.
    with triggers_dropped(platform), platform.engine.begin() as conn:
        for row in reversed(built):
            conn.execute(insert(AuditEvent), [{c: getattr(row, c) for c in cols}])
    res = _verify(platform)
    assert res.ok, res.summary()
    assert res.entries == 5
    # A gap is still a gap, reported exactly.
    with platform.transaction() as s:
        ids = list(s.scalars(select(AuditEvent.id).order_by(AuditEvent.seq)))
    tamper(platform, "DELETE FROM audit_events WHERE id = :i", i=ids[1])
    res = _verify(platform)
    assert not res.ok and res.first_bad is not None
    assert res.first_bad.entry_id == ids[2] and "deleted" in res.first_bad.message


def test_record_is_two_statements_however_many_entries_and_one_for_one(
    platform: Platform,
) -> None:
    if not is_postgres(platform.engine):
        pytest.skip("the chain-head table is the PostgreSQL writer")
    with platform.transaction() as s:
        s.connection()  # BEGIN and the pool's ping happen before counting
        with statements_on(platform.engine) as statements:
            record(s, *[AuditEntry(actor="apikey:b", action="ingest.batch") for _ in range(25)])
            first = len(statements)
            record(s, AuditEntry(actor="apikey:b", action="ingest.batch"))
            second = len(statements) - first
    assert first == 2, statements
    # A single entry (a read): the head locked and the entry inserted in one statement,
    # on the chain this transaction already holds.
    assert second == 1, statements[first:]
    with platform.transaction() as s:
        s.connection()
        with statements_on(platform.engine) as statements:
            record(s, AuditEntry(actor="apikey:b", action="customers.read", customer_id="c1"))
            third = len(statements)
    assert third == 1, statements
    with platform.transaction() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 27
        # One transaction, one chain: seq 1..26 and the head table agrees with the log.
        chain, top = s.execute(
            select(AuditEvent.chain, func.max(AuditEvent.seq))
            .where(AuditEvent.action == "ingest.batch")
            .group_by(AuditEvent.chain)
        ).one()
        head = s.get(AuditChainHead, chain)
        # The read of the third transaction may have landed on the same chain (random start).
        top_all = s.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.chain == chain))
        last = s.scalar(
            select(AuditEvent.entry_hash).where(AuditEvent.chain == chain, AuditEvent.seq == top_all)
        )
    assert top == 26 and top_all in (26, 27)
    assert head is not None and (head.seq, head.entry_hash) == (top_all, last)
    # The server-computed hash of the single entries is the one the verifier recomputes.
    assert _verify(platform).ok


def test_concurrent_writers_leave_gap_free_chains(platform: Platform) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(8):
                with platform.transaction() as s:
                    record(
                        s,
                        *[AuditEntry(actor=f"apikey:t{n}", action="customers.read")] * (1 + i % 3),
                    )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    res = _verify(platform)
    assert res.ok, res.summary()
    assert res.entries == 6 * sum(1 + i % 3 for i in range(8))
    if is_postgres(platform.engine):
        assert res.chains > 1  # writers spread over the chains


def test_an_entry_that_does_not_extend_its_chain_is_refused(platform: Platform) -> None:
    if not is_postgres(platform.engine):
        pytest.skip("the head trigger is PostgreSQL's")
    write_entries(platform, 2, per_tx=2)
    with platform.transaction() as s:
        row = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert row is not None
        chain, seq, h = row.chain, row.seq, row.entry_hash
    base = {
        "at": datetime(2026, 3, 1, tzinfo=UTC),
        "actor": "apikey:z",
        "action": "customers.read",
        "categories": [],
        "view": {},
        "decision": "allow",
        "detail": {},
        "entry_hash": "f" * 64,
        "chain": chain,
    }
    # A writer with a stale head (seq already taken), or one that skips a seq, or links
    # to the wrong entry: each refused by the database.
    for seq_, prev in ((seq, h), (seq + 2, h), (seq + 1, GENESIS)):
        with (
            # A taken seq trips the unique key first; the others the head trigger.
            pytest.raises(
                DBAPIError, match="does not extend its chain head|uq_audit_events_chain_seq"
            ),
            platform.engine.begin() as conn,
        ):
            conn.execute(insert(AuditEvent), [dict(base, seq=seq_, prev_hash=prev)])
    # A batch whose first entry extends the head and whose second does not: refused whole
    # (a single entry's head move is a shortcut of the trigger's; a batch never takes it).
    with (
        pytest.raises(DBAPIError, match="does not extend its chain head"),
        platform.engine.begin() as conn,
    ):
        conn.execute(
            insert(AuditEvent),
            [dict(base, seq=seq + 1, prev_hash=h), dict(base, seq=seq + 3, prev_hash="f" * 64)],
        )
    assert _verify(platform).ok


def test_a_writer_queues_when_every_chain_is_busy(platform: Platform) -> None:
    """With every chain head locked by open transactions, a writer waits for one (never
    appends to a head it does not hold) and goes ahead once that transaction ends."""
    if not is_postgres(platform.engine):
        pytest.skip("chain heads are locked rows on PostgreSQL")
    from cdp.audit import log

    old = log.PG_CHAINS
    log.PG_CHAINS = 1
    holder = platform.Session()
    try:
        holder.execute(text("SELECT 1 FROM audit_chain_heads WHERE chain = 0 FOR UPDATE"))
        done = threading.Event()

        def writer() -> None:
            write_entries(platform, 1)
            done.set()

        t = threading.Thread(target=writer)
        t.start()
        assert not done.wait(1.0)  # queued behind the open transaction
        holder.commit()
        t.join(30)
        assert done.is_set()
    finally:
        log.PG_CHAINS = old
        holder.close()
    res = _verify(platform)
    assert res.ok and res.entries == 1


def test_one_transaction_appends_to_one_chain_when_its_first_statement_is_an_append(
    platform: Platform,
) -> None:
    """A session reused across transactions, each opening with an append (no read before
    it): every transaction's entries stay on one chain. Before the fix the append looked
    its transaction up before beginning it, so a new transaction took the earlier one's
    chain for its own and its second append could lock a second chain: two writers doing
    so can deadlock, each holding one chain and waiting for the other's."""
    if not is_postgres(platform.engine):
        pytest.skip("several chains are PostgreSQL's")
    s = platform.Session()
    try:
        for _ in range(12):
            for i in range(3):
                record(s, AuditEntry(actor="apikey:t", action="customers.read", customer_id=f"c{i}"))
            s.commit()
    finally:
        s.close()
    with platform.transaction() as s:
        per_request = s.execute(
            select(AuditEvent.chain, AuditEvent.seq).order_by(AuditEvent.id)
        ).all()
    assert len(per_request) == 36
    for t in range(12):
        chains = {c for c, _ in per_request[3 * t : 3 * t + 3]}
        assert len(chains) == 1, (t, per_request[3 * t : 3 * t + 3])
    assert _verify(platform).ok


def test_a_single_entry_skips_a_busy_chain_for_the_next_free_one(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A single entry tries one chain by its key; when another transaction holds that chain
    the entry goes to the first free one after it (one more statement), never waits, and
    every chain stays intact."""
    if not is_postgres(platform.engine):
        pytest.skip("several chains are PostgreSQL's")
    import cdp.audit.log as audit_log

    monkeypatch.setattr(audit_log.random, "randrange", lambda n: 3)
    with platform.transaction() as holder:
        record(holder, AuditEntry(actor="apikey:h", action="customers.read", customer_id="c0"))
        with platform.transaction() as s:
            s.connection()
            with statements_on(platform.engine) as statements:
                record(s, AuditEntry(actor="apikey:t", action="customers.read", customer_id="c1"))
    assert len(statements) == 2, statements
    assert "chain = " in statements[0] and "SKIP LOCKED" in statements[1]
    with platform.transaction() as s:
        chains = dict(s.execute(select(AuditEvent.customer_id, AuditEvent.chain)).all())
    assert chains == {"c0": 3, "c1": 4}
    with platform.transaction() as s:  # chain 3 free again: one statement
        s.connection()
        with statements_on(platform.engine) as statements:
            record(s, AuditEntry(actor="apikey:t", action="customers.read", customer_id="c2"))
    assert len(statements) == 1, statements
    assert _verify(platform).ok
