#!/usr/bin/env python
"""Audit log benchmarks on PostgreSQL: append rate under concurrent writers, verify speed.

    python -m scripts.bench.audit_bench append --writers 1,4,16 --seconds 10
    python -m scripts.bench.audit_bench verify --entries 1000000

append: each writer thread runs transactions that each append one audit entry (what one
audited read costs the log), for ``--seconds``. Measured twice in the same run: with one
hash chain (every writer queues on the single chain head, the naive design; baseline) and
with the platform's striped chains (``PG_CHAINS``). Ratio = striped / single.

verify: loads N valid chained entries with COPY (spread over the chains like real
traffic, plus a signed checkpoint), then times ``verify_log`` (the code behind
``cdp audit verify``) over all of them. Goal: 1,000,000 entries in under 10 s.
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

import psycopg
from psycopg import sql

from cdp.audit import log as audit_log
from cdp.audit.checkpoints import create_checkpoint
from cdp.audit.log import GENESIS, AuditEntry, entry_digest, record
from cdp.audit.verify import verify_log
from cdp.config import Config
from cdp.crypto.keyring import Keyring
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


def run_writers(platform: Platform, writers: int, seconds: float) -> tuple[int, float, list[float]]:
    stop = time.perf_counter() + seconds
    counts = [0] * writers
    lat: list[float] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        mine = []
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            with platform.transaction() as s:
                record(
                    s,
                    AuditEntry(
                        actor=f"apikey:w{n}",
                        role="pharmacist",
                        purpose="pharmacy_care",
                        action="customers.read",
                        customer_id=f"{random.getrandbits(128):032x}",
                        categories=["contact", "health"],
                        view={"contact": "masked", "health": "plain"},
                    ),
                )
            mine.append(time.perf_counter() - t0)
            counts[n] += 1
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
    platform.engine.pool.size()
    print(f"audit append, PostgreSQL, one entry per transaction, {args.seconds:.0f} s per cell")
    print(f"{'writers':>8} {'chains':>7} {'entries/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    results = {}
    for writers in [int(w) for w in args.writers.split(",")]:
        for chains in (1, audit_log.PG_CHAINS_DEFAULT):
            audit_log.PG_CHAINS = chains
            n, dt, lat = run_writers(platform, writers, args.seconds)
            results[(writers, chains)] = n / dt
            print(
                f"{writers:>8} {chains:>7} {n / dt:>10.0f} {pct(lat, 0.5) * 1e3:>8.2f} {pct(lat, 0.99) * 1e3:>8.2f}"
            )
        ratio = results[(writers, audit_log.PG_CHAINS_DEFAULT)] / results[(writers, 1)]
        print(f"{'':>8} striped / single chain: {ratio:.2f}x")
    audit_log.PG_CHAINS = audit_log.PG_CHAINS_DEFAULT
    with platform.transaction() as s:
        res = verify_log(s, platform.keyring.verify_key)
    print(res.summary())
    platform.dispose()


def cmd_verify(args: argparse.Namespace) -> None:
    url = fresh_db("cdp_bench_audit_verify")
    platform = platform_for(url)
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
        with conn.cursor().copy(
            sql.SQL("COPY audit_events ({}) FROM STDIN").format(
                sql.SQL(",").join(map(sql.Identifier, cols))
            )
        ) as copy:
            for i in range(args.entries):
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
        conn.commit()
    load = time.perf_counter() - t0
    with platform.transaction() as s:
        create_checkpoint(s, platform.keyring.signing_key)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE audit_events")
    print(f"loaded {args.entries} chained entries in {load:.1f} s")
    best = None
    for _ in range(args.repeat):
        with platform.transaction() as s:
            res = verify_log(s, platform.keyring.verify_key)
        best = res if best is None or res.seconds < best.seconds else best
        print("in-process, 1 worker:", res.summary())
    assert best is not None and best.ok
    print(
        f"verify (1 process): {best.entries} entries in {best.seconds:.2f} s = "
        f"{best.entries / best.seconds:,.0f} entries/s (goal: 1,000,000 in < 10 s)"
    )
    env = dict(os.environ, CDP_DATABASE_URL=url, CDP_KEYRING=platform.config.keyring_path)
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = subprocess.run(
            [
                os.path.join(os.path.dirname(sys.executable), "cdp"),
                "audit",
                "verify",
                "--workers",
                str(os.cpu_count()),
            ],
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        print(
            f"`cdp audit verify` (workers = {os.cpu_count()}), exit {out.returncode}, wall {wall:.2f} s "
            f"incl. process start: {out.stdout.strip()}"
        )
    platform.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("append")
    a.add_argument("--writers", default="1,4,16")
    a.add_argument("--seconds", type=float, default=10)
    v = sub.add_parser("verify")
    v.add_argument("--entries", type=int, default=1_000_000)
    v.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    {"append": cmd_append, "verify": cmd_verify}[args.cmd](args)


if __name__ == "__main__":
    main()
