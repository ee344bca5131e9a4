#!/usr/bin/env python
"""Audit log benchmarks on PostgreSQL: append rate under concurrent writers, verify speed.

    python -m scripts.bench.audit_bench append --writers 1,4,16 --seconds 10
    python -m scripts.bench.audit_bench verify --entries 1000000

append: each writer thread runs transactions that each append one audit entry (what one
audited read costs the log), for ``--seconds``. Measured in the same run: with one hash
chain (every writer queues on the single chain head, the naive design), with the
platform's striped chains (``PG_CHAINS``), and with the previous writer on 8 chains
(advisory lock, head searched in the log, ORM insert: 3 statements; ``legacy``); then
batches of ``--batch`` entries per ``record()`` call (what an ingest batch writes), new
writer vs legacy. Ratios: striped / single, and new / legacy.

cost: on an existing database (``--database-url``, e.g. the read bench's, whose log holds
every read it served), one writer appends ``--entries`` single entries, each in its own
transaction (what one audited read adds to its transaction), and prints per append the wall
time, the client's CPU and the CPU of the PostgreSQL backend serving it (Linux /proc); the
baseline in the same run is the same transaction without the entry (BEGIN, SELECT 1, COMMIT).

    python -m scripts.bench.audit_bench cost \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/cdp_bench_read100k \
        --keyring var/h4/keyring.json --entries 4000

verify: loads N valid chained entries with COPY (spread over the chains like real
traffic, plus a signed checkpoint), then times ``verify_log`` (the code behind
``cdp audit verify``) over all of them, in one process and with the default workers, and
the previous verifier (server-side cursor, a Python canonical text per row; baseline) in
the same run. Goal: 1,000,000 entries in under 10 s. ``--reuse`` keeps an already loaded
database of the same size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cdp.audit import log as audit_log
from cdp.audit.checkpoints import create_checkpoint
from cdp.audit.log import GENESIS, AuditEntry, canonical_text, chain_digest, entry_digest, record
from cdp.audit.models import AuditEvent
from cdp.audit.verify import verify_log
from cdp.config import Config
from cdp.crypto.keyring import Keyring
from cdp.db import utcnow
from cdp.platform import Platform, upgrade_schema

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def fresh_db(name: str) -> str:
    with psycopg.connect(ADMIN, autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    upgrade_schema(BASE + name)
    return BASE + name


def platform_for(url: str) -> Platform:
    d = tempfile.mkdtemp(prefix="cdp-bench-")
    Keyring.generate().save(f"{d}/keyring.json")
    return Platform(Config(database_url=url, keyring_path=f"{d}/keyring.json"))


# -- the previous writer and verifier, kept here as the same-run baselines -------------------
_LEGACY_LOCK = 0x6364706175646974
_LEGACY_PICK = text(
    "SELECT (c + :start) % :n FROM generate_series(0, :n - 1) AS c "
    "WHERE pg_try_advisory_xact_lock(:base + (c + :start) % :n) LIMIT 1"
)


def legacy_record(session: Session, *entries: AuditEntry) -> None:
    """The writer before the chain-heads table: advisory lock, head searched in the log,
    ORM insert (3 statements, plus the ORM unit of work per entry)."""
    start = random.randrange(audit_log.PG_CHAINS)
    chain = session.scalar(
        _LEGACY_PICK, {"start": start, "n": audit_log.PG_CHAINS, "base": _LEGACY_LOCK}
    )
    if chain is None:
        chain = start
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LEGACY_LOCK + chain})
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.entry_hash)
        .where(AuditEvent.chain == chain)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS)
    for e in entries:
        seq += 1
        row = AuditEvent(
            at=utcnow(),
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
        row.entry_hash = prev = entry_digest(prev, row)
        session.add(row)
    session.flush()


_LEGACY_QUERY = (
    "SELECT id, chain, seq, at, actor, role, purpose, action, customer_id, decision, reason, "
    "request_id, categories::text, view::text, detail::text, prev_hash, entry_hash "
    "FROM audit_events ORDER BY chain, seq"
)


def legacy_verify(dsn: str) -> tuple[int, float, bool]:
    """The previous verifier's row walk: a server-side cursor of typed tuples and
    ``canonical_text`` per row (links, seqs and hashes; checkpoints are cheap either way)."""
    t0 = time.perf_counter()
    n, ok = 0, True
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET jit = off")
        with conn.cursor(name="legacy_verify") as cur:
            cur.itersize = 20_000
            cur.execute(_LEGACY_QUERY)
            chain, prev, want = -1, GENESIS, 1
            for _rid, c, seq, at, *content, prev_hash, entry_hash in cur:
                n += 1
                if c != chain:
                    chain, prev, want = c, GENESIS, 1
                if (
                    seq != want
                    or prev_hash != prev
                    or chain_digest(prev, canonical_text(c, seq, at, *content)) != entry_hash
                ):
                    ok = False
                prev, want = entry_hash, want + 1
    return n, time.perf_counter() - t0, ok


def run_writers(
    platform: Platform,
    writers: int,
    seconds: float,
    writer: object = record,
    batch: int = 1,
) -> tuple[int, float, list[float]]:
    stop = time.perf_counter() + seconds
    counts = [0] * writers
    lat: list[float] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        mine = []
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            with platform.transaction() as s:
                writer(  # type: ignore[operator]
                    s,
                    *[
                        AuditEntry(
                            actor=f"apikey:w{n}",
                            role="pharmacist",
                            purpose="pharmacy_care",
                            action="customers.read",
                            customer_id=f"{random.getrandbits(128):032x}",
                            categories=["contact", "health"],
                            view={"contact": "masked", "health": "plain"},
                        )
                        for _ in range(batch)
                    ],
                )
            mine.append(time.perf_counter() - t0)
            counts[n] += batch
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), time.perf_counter() - t0, sorted(lat)


def pct(sorted_values: list[float], p: float) -> float:
    return (
        sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))]
        if sorted_values
        else 0.0
    )


def cmd_append(args: argparse.Namespace) -> None:
    url = fresh_db("cdp_bench_audit_append")
    platform = platform_for(url)
    print(f"audit append, PostgreSQL, {args.seconds:.0f} s per cell")
    print(
        f"{'writers':>8} {'chains':>7} {'writer':>7} {'batch':>6} {'entries/s':>10} "
        f"{'us/entry':>9} {'p50 ms':>8} {'p99 ms':>8}"
    )
    results = {}
    chains8 = audit_log.PG_CHAINS_DEFAULT

    def cell(writers: int, chains: int, name: str, batch: int) -> float:
        audit_log.PG_CHAINS = chains
        fn = record if name == "new" else legacy_record
        n, dt, lat = run_writers(platform, writers, args.seconds, fn, batch)
        rate = n / dt
        print(
            f"{writers:>8} {chains:>7} {name:>7} {batch:>6} {rate:>10.0f} "
            f"{1e6 / rate:>9.0f} {pct(lat, 0.5) * 1e3:>8.2f} {pct(lat, 0.99) * 1e3:>8.2f}",
            flush=True,
        )
        return rate

    for writers in [int(w) for w in args.writers.split(",")]:
        for chains, name in ((1, "new"), (chains8, "new"), (chains8, "legacy")):
            results[(writers, chains, name)] = cell(writers, chains, name, 1)
        print(
            f"{'':>8} striped / single chain: "
            f"{results[(writers, chains8, 'new')] / results[(writers, 1, 'new')]:.2f}x; "
            f"new / legacy writer: "
            f"{results[(writers, chains8, 'new')] / results[(writers, chains8, 'legacy')]:.2f}x"
        )
    if args.batch > 1:
        new = cell(1, chains8, "new", args.batch)
        old = cell(1, chains8, "legacy", args.batch)
        print(f"{'':>8} batches of {args.batch}, new / legacy writer: {new / old:.2f}x")
    audit_log.PG_CHAINS = chains8
    with platform.transaction() as s:
        res = verify_log(s, platform.keyring.verify_key)
    print(res.summary())
    platform.dispose()


def _reusable(name: str, entries: int, keyring: str) -> bool:
    if not os.path.exists(keyring):
        return False
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as c:
            n = c.execute(
                "SELECT count(*) FROM audit_events WHERE actor LIKE 'apikey:%'"
            ).fetchone()
            cps = c.execute("SELECT count(*) FROM audit_checkpoints").fetchone()
    except psycopg.Error:
        return False
    return bool(n and n[0] == entries and cps and cps[0] > 0)


def cmd_verify(args: argparse.Namespace) -> None:
    name = "cdp_bench_audit_verify"
    keyring = os.path.abspath("var/bench/audit_verify_keyring.json")
    if args.reuse and _reusable(name, args.entries, keyring):
        url = BASE + name
        platform = Platform(Config(database_url=url, keyring_path=keyring))
        print(f"reusing {name} ({args.entries} entries)")
    else:
        url = fresh_db(name)
        os.makedirs(os.path.dirname(keyring), exist_ok=True)
        Keyring.generate().save(keyring)
        platform = Platform(Config(database_url=url, keyring_path=keyring))
        load(url, platform, args.entries)
    measure_verify(url, platform, args)


def load(url: str, platform: Platform, entries: int) -> None:
    chains = audit_log.PG_CHAINS_DEFAULT
    heads = {c: (0, GENESIS) for c in range(chains)}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cols = [
        "at",
        "actor",
        "role",
        "purpose",
        "action",
        "customer_id",
        "categories",
        "view",
        "decision",
        "reason",
        "request_id",
        "detail",
        "prev_hash",
        "entry_hash",
        "chain",
        "seq",
    ]
    t0 = time.perf_counter()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        # Bulk load without the per-row chain-head trigger (superuser); heads set after.
        conn.execute("SET session_replication_role = replica")
        with conn.cursor().copy(
            sql.SQL("COPY audit_events ({}) FROM STDIN").format(
                sql.SQL(",").join(map(sql.Identifier, cols))
            )
        ) as copy:
            for i in range(entries):
                c = i % chains
                seq, prev = heads[c]
                row = SimpleNamespace(
                    chain=c,
                    seq=seq + 1,
                    at=start + timedelta(microseconds=i * 1000),
                    actor=f"apikey:{i % 50:012x}",
                    role="pharmacist",
                    purpose="pharmacy_care",
                    action="customers.read",
                    customer_id=f"{i % 100_000:032x}",
                    categories=["contact", "health", "identity"],
                    view={"contact": "masked", "health": "plain", "identity": "plain"},
                    decision="allow",
                    reason=None,
                    request_id=f"{i:032x}",
                    detail={"withheld": ["financial"]},
                )
                h = entry_digest(prev, row)
                heads[c] = (seq + 1, h)
                copy.write_row(
                    [
                        row.at,
                        row.actor,
                        row.role,
                        row.purpose,
                        row.action,
                        row.customer_id,
                        json.dumps(row.categories),
                        json.dumps(row.view),
                        row.decision,
                        None,
                        row.request_id,
                        json.dumps(row.detail),
                        prev,
                        h,
                        c,
                        seq + 1,
                    ]
                )
        for c, (seq, h) in heads.items():
            conn.execute(
                "INSERT INTO audit_chain_heads (chain, seq, entry_hash) VALUES (%s, %s, %s) "
                "ON CONFLICT (chain) DO UPDATE SET seq = EXCLUDED.seq, entry_hash = EXCLUDED.entry_hash",
                (c, seq, h),
            )
        conn.commit()
    took = time.perf_counter() - t0
    with platform.transaction() as s:
        create_checkpoint(s, platform.keyring.signing_key)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE audit_events")
    print(f"loaded {entries} chained entries in {took:.1f} s")


def measure_verify(url: str, platform: Platform, args: argparse.Namespace) -> None:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    n, legacy_s, legacy_ok = legacy_verify(dsn)
    print(
        f"baseline (previous verifier's row walk, 1 process): {n} entries in {legacy_s:.2f} s "
        f"= {n / legacy_s:,.0f} entries/s, intact={legacy_ok}",
        flush=True,
    )
    best = None
    for _ in range(args.repeat):
        with platform.transaction() as s:
            res = verify_log(s, platform.keyring.verify_key, workers=1)
        best = res if best is None or res.seconds < best.seconds else best
        print("in-process, 1 worker:", res.summary(), flush=True)
    assert best is not None and best.ok
    print(
        f"verify (1 process): {best.entries} entries in {best.seconds:.2f} s = "
        f"{best.entries / best.seconds:,.0f} entries/s (goal: 1,000,000 in < 10 s); "
        f"baseline / new: {legacy_s / best.seconds:.2f}x",
        flush=True,
    )
    for _ in range(args.repeat):
        with platform.transaction() as s:
            res = verify_log(s, platform.keyring.verify_key)
        print(f"in-process, default workers ({os.cpu_count()} CPUs):", res.summary(), flush=True)
    env = dict(os.environ, CDP_DATABASE_URL=url, CDP_KEYRING=platform.config.keyring_path)
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = subprocess.run(
            [
                os.path.join(os.path.dirname(sys.executable), "cdp"),
                "audit",
                "verify",
            ],
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        print(
            f"`cdp audit verify` (default workers = {os.cpu_count()}), exit {out.returncode}, "
            f"wall {wall:.2f} s incl. process start: {out.stdout.strip()}"
        )
    platform.dispose()


def cmd_cost(args: argparse.Namespace) -> None:
    from sqlalchemy import text

    from cdp.audit.log import AuditEntry, record
    from cdp.config import Config
    from cdp.platform import Platform

    platform = Platform(
        Config(database_url=args.database_url, keyring_path=args.keyring, policy_dir="policies")
    )
    hz = os.sysconf("SC_CLK_TCK")
    rng = random.Random(7)

    def entry() -> AuditEntry:
        # The shape of a customer_service read's entry (ids random, no personal values).
        return AuditEntry(
            actor="apikey:bench", role="customer_service", purpose="customer_support",
            action="customers.read", customer_id=f"{rng.getrandbits(128):032x}",
            categories=["address", "consent", "contact", "identity", "purchase"],
            view={"address": "plain", "consent": "plain", "contact": "masked",
                  "identity": "plain", "purchase": "plain"},
            request_id=f"{rng.getrandbits(128):032x}", detail={"withheld": ["health"]},
        )

    def measure(label: str, step: Any, n: int) -> tuple[float, float, float]:
        s = platform.Session()
        s.execute(text("SELECT 1"))
        pid = s.connection().connection.dbapi_connection.info.backend_pid
        s.commit()

        def backend_cpu() -> float:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / hz

        for _ in range(min(300, n)):  # warm: prepared statements, caches
            step(s)
            s.commit()
        w0, c0, b0 = time.perf_counter(), time.thread_time(), backend_cpu()
        for _ in range(n):
            step(s)
            s.commit()
        wall = (time.perf_counter() - w0) / n * 1e3
        client = (time.thread_time() - c0) / n * 1e3
        server = (backend_cpu() - b0) / n * 1e3
        s.close()
        print(f"{label}: {wall:.3f} ms wall, client CPU {client:.3f} ms, PostgreSQL backend CPU "
              f"{server:.3f} ms per transaction ({n} transactions)")
        return wall, client, server

    with platform.transaction() as s:
        entries = s.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    print(f"{entries} entries in the log; load average {os.getloadavg()[0]:.2f}")
    base = measure("baseline (BEGIN, SELECT 1, COMMIT)", lambda s: s.execute(text("SELECT 1")),
                   args.entries)
    one = measure("one audit entry and its commit", lambda s: record(s, entry()), args.entries)
    print(f"append / baseline: wall {one[0] / base[0]:.2f}x, PostgreSQL CPU "
          f"{one[2] / max(base[2], 1e-9):.2f}x; the entry adds {one[2] - base[2]:.3f} ms of "
          f"PostgreSQL CPU and {one[0] - base[0]:.3f} ms of wall time")
    platform.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("append")
    a.add_argument("--writers", default="1,4,16")
    a.add_argument("--seconds", type=float, default=10)
    a.add_argument("--batch", type=int, default=50, help="entries per record() call, last cells")
    c = sub.add_parser("cost")
    c.add_argument("--database-url", required=True)
    c.add_argument("--keyring", required=True)
    c.add_argument("--entries", type=int, default=4000)
    v = sub.add_parser("verify")
    v.add_argument("--entries", type=int, default=1_000_000)
    v.add_argument("--repeat", type=int, default=2)
    v.add_argument("--reuse", action="store_true", help="keep a loaded database of this size")
    args = ap.parse_args()
    from scripts.bench.procstat import print_machine

    print_machine()
    {"append": cmd_append, "verify": cmd_verify, "cost": cmd_cost}[args.cmd](args)


if __name__ == "__main__":
    main()
