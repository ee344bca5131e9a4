#!/usr/bin/env python
"""`cdp audit verify` at scale on a month-partitioned PostgreSQL log, archive included.

    python -m scripts.bench.audit_verify_bench --entries 1000000 --months 3
    python -m scripts.bench.audit_verify_bench --entries 1000000 --reuse   # keep the loaded db
    python -m scripts.bench.audit_verify_bench --entries 1000000 --reuse --verify-only --repeat 3

1. Builds ``--entries`` valid chained entries over 8 chains spread evenly across ``--months``
   past months (one partition each, made as the ensure function makes them), with COPY and
   the chain-head trigger off (superuser), plus a signed checkpoint. The content varies like
   real reads (actors, customers, purposes, a request id).
2. Times ``verify_log`` (the code behind ``cdp audit verify``) in one process, with the
   default workers, and ``cdp audit verify`` as a subprocess (wall, process start included).
3. Baselines in the same run: ``sum(range(10**7))`` (the machine figure) and hashing the same
   canonical bytes in a plain Python loop already in memory (SHA-256 per entry, no database:
   the floor a verifier in Python could reach).
4. Archives the oldest month (``archive_before``, as ``cdp audit archive``), times it, checks
   the segment file alone (``verify_segment_file``) and verifies the live rest again.
5. Prints the bytes per entry on disk (heap + indexes + TOAST) and in the gzip segment, and
   projects a year at 300 audited reads/s (26 million entries a day).

The database is ``cdp_bench_audit_verify_p`` on 127.0.0.1, dropped and made again unless
``--reuse``: then the freshly loaded log is kept as the template ``cdp_bench_audit_verify_p_tpl``
and later runs of the same size copy it (seconds instead of a reload; the archive step drops a
month from the working copy only). ``--verify-only`` stops after the timings of step 2.
Stops by itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from cdp.audit import log as audit_log
from cdp.audit.archive import archive_before, verify_segment_file
from cdp.audit.checkpoints import create_checkpoint
from cdp.audit.log import GENESIS, canonical_text, chain_digest
from cdp.audit.verify import verify_log
from cdp.config import Config
from cdp.crypto.keyring import Keyring
from cdp.platform import Platform, upgrade_schema
from scripts.bench.procstat import print_machine

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NAME = "cdp_bench_audit_verify_p"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{NAME}"
DSN = f"postgresql://postgres@127.0.0.1:5432/{NAME}"
TEMPLATE = f"{NAME}_tpl"
PER_DAY = 300 * 86_400
COLS = ["at", "actor", "role", "purpose", "action", "customer_id", "categories", "view",
        "decision", "reason", "request_id", "detail", "prev_hash", "entry_hash", "chain", "seq"]
PURPOSES = [("customer_service", "customer_support"), ("pharmacist", "pharmacy_care"),
            ("marketing", "marketing"), ("compliance_officer", "compliance_audit")]


def month(dt: datetime, delta: int) -> datetime:
    y, m = divmod(dt.year * 12 + dt.month - 1 + delta, 12)
    return datetime(y, m + 1, 1, tzinfo=UTC)


def generate(entries: int, months: int) -> Iterator[tuple[list[Any], bytes]]:
    """The entries as COPY rows, each with the exact bytes its hash covers."""
    now = datetime.now(UTC)
    first = month(now, -months)
    span = (month(now, 0) - first).total_seconds()
    chains = audit_log.PG_CHAINS_DEFAULT
    heads = {c: (0, GENESIS) for c in range(chains)}
    for i in range(entries):
        c = i % chains
        seq, prev = heads[c]
        seq += 1
        at = first + timedelta(seconds=span * i / entries)
        role, purpose = PURPOSES[i % 4]
        cats, view = ["contact", "identity"], {"contact": "masked", "identity": "plain"}
        detail = {"withheld": ["health"]} if i % 3 else {}
        cj, vj, dj = json.dumps(cats), json.dumps(view), json.dumps(detail)
        body = canonical_text(
            c, seq, at, f"apikey:{i % 997:012x}", role, purpose, "customers.read",
            f"{(i * 7919) % 1_000_003:032x}", "allow", None, f"{i:032x}", cj, vj, dj,
        )
        text = f"{prev}|{body}".encode()
        h = hashlib.sha256(text).hexdigest()
        assert h == chain_digest(prev, body)
        yield ([at, f"apikey:{i % 997:012x}", role, purpose, "customers.read",
                f"{(i * 7919) % 1_000_003:032x}", cj, vj, "allow", None,
                f"{i:032x}", dj, prev, h, c, seq], text)
        heads[c] = (seq, h)


def load(entries: int, months: int) -> list[bytes]:
    """Fill the database; returns the canonical bytes hashed per entry (for the baseline)."""
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(NAME)))
    upgrade_schema(URL)
    now = datetime.now(UTC)
    first = month(now, -months)
    hashed: list[bytes] = []
    heads: dict[int, tuple[int, str]] = {}
    t0 = time.perf_counter()
    with psycopg.connect(DSN) as db:
        for k in range(months):
            lo, hi = month(first, k), month(first, k + 1)
            db.execute(
                sql.SQL("CREATE TABLE {} PARTITION OF audit_events FOR VALUES FROM ({}) TO ({})")
                .format(sql.Identifier(f"audit_events_{lo:%Y_%m}"), lo.isoformat(), hi.isoformat())
            )
        db.execute("SET session_replication_role = replica")  # no per-row head trigger
        cols = sql.SQL(",").join(map(sql.Identifier, COLS))
        with db.cursor().copy(sql.SQL("COPY audit_events ({}) FROM STDIN").format(cols)) as copy:
            for row, text in generate(entries, months):
                hashed.append(text)
                copy.write_row(row)
                heads[row[-2]] = (row[-1], row[-3])
        for c, (seq, h) in heads.items():
            db.execute(
                "INSERT INTO audit_chain_heads (chain, seq, entry_hash) VALUES (%s, %s, %s) "
                "ON CONFLICT (chain) DO UPDATE SET seq = EXCLUDED.seq, entry_hash = EXCLUDED.entry_hash",
                (c, seq, h),
            )
        db.commit()
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE audit_events")
    print(f"loaded {entries:,} chained entries over {months} month partitions in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    return hashed


def template_entries() -> int | None:
    """Entries in the kept template, or None when there is none."""
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{TEMPLATE}") as conn:
            row = conn.execute("SELECT count(*) FROM audit_events").fetchone()
    except psycopg.Error:
        return None
    return int(row[0]) if row else None


def copy_database(source: str, target: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(target), sql.Identifier(source)))


def disk_bytes() -> tuple[int, int]:
    with psycopg.connect(DSN) as conn:
        row = conn.execute(
            "SELECT sum(pg_total_relation_size(i.inhrelid)), "
            "(SELECT count(*) FROM audit_events) FROM pg_inherits i "
            "WHERE i.inhparent = 'audit_events'::regclass"
        ).fetchone()
    assert row is not None
    return int(row[0] or 0), int(row[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    ap.add_argument("--verify-only", action="store_true", help="skip the archive step")
    ap.add_argument("--repeat", type=int, default=1, help="time verify_log this many times")
    args = ap.parse_args()

    keyring = Path("var/bench/audit_verify_p_keyring.json").resolve()
    machine_ms = print_machine()
    reuse = args.reuse and keyring.exists() and template_entries() == args.entries
    if reuse:
        t0 = time.perf_counter()
        copy_database(TEMPLATE, NAME)
        print(f"copied {TEMPLATE} to {NAME} in {time.perf_counter() - t0:.1f} s", flush=True)
        # The baseline's texts, made again without the database by the same generator.
        hashed = [text for _, text in generate(args.entries, args.months)]
    else:
        # A new keyring: a template signed under the old one would no longer verify.
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(TEMPLATE)))
        keyring.parent.mkdir(parents=True, exist_ok=True)
        Keyring.generate().save(keyring)
        hashed = load(args.entries, args.months)
    platform = Platform(Config(database_url=URL, keyring_path=str(keyring)))
    if not reuse:
        with platform.transaction() as s:
            create_checkpoint(s, platform.keyring.signing_key)
        if args.reuse:
            platform.dispose()
            copy_database(NAME, TEMPLATE)

    if hashed:
        sha = hashlib.sha256
        t0 = time.perf_counter()
        for b in hashed:
            sha(b).hexdigest()
        base = time.perf_counter() - t0
        print(f"baseline: SHA-256 of the same {len(hashed):,} canonical texts in a plain loop, "
              f"in memory: {base:.2f} s", flush=True)
        del hashed

    for _ in range(args.repeat):
        print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
        with platform.transaction() as s:
            one = verify_log(s, platform.keyring.verify_key, workers=1)
        print(f"verify_log, 1 process: {one.summary()}", flush=True)
        with platform.transaction() as s:
            many = verify_log(s, platform.keyring.verify_key, workers=2)
        print(f"verify_log, 2 processes: {many.summary()}", flush=True)
    env = dict(os.environ, CDP_DATABASE_URL=URL, CDP_KEYRING=str(keyring))
    cdp = os.path.join(os.path.dirname(sys.executable), "cdp")
    t0 = time.perf_counter()
    out = subprocess.run([cdp, "audit", "verify"], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    print(f"`cdp audit verify`: exit {out.returncode}, wall {wall:.2f} s incl. process start: "
          f"{out.stdout.strip()}", flush=True)
    best = min(one.seconds, many.seconds)
    ratio = f"; verify / plain hashing loop: {best / base:.2f}x"
    print(f"RESULT entries={one.entries:,} verify_1proc={one.seconds:.2f}s "
          f"verify_2proc={many.seconds:.2f}s cli_wall={wall:.2f}s machine={machine_ms:.0f}ms"
          f"{ratio} (goal: 1,000,000 in < 10 s)", flush=True)
    if args.verify_only:
        platform.dispose()
        return

    size, rows = disk_bytes()
    per_entry = size / max(rows, 1)
    out_dir = Path(tempfile.mkdtemp(prefix="cdp-segments-"))
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with platform.transaction() as s:
        res = archive_before(s, month(now, -args.months + 1), out_dir, platform.keyring.signing_key,
                             drop=True)
    took = time.perf_counter() - t0
    seg_bytes = res.path.stat().st_size
    print(f"archive of the oldest month: {res.entries:,} entries in {took:.1f} s "
          f"({res.entries / took:,.0f}/s), file {seg_bytes / 1e6:.1f} MB "
          f"({seg_bytes / max(res.entries, 1):.0f} B/entry gzip)", flush=True)
    t0 = time.perf_counter()
    check = verify_segment_file(res.path, platform.keyring.verify_key)
    print(f"segment file alone: {check.summary()} in {time.perf_counter() - t0:.1f} s", flush=True)
    with platform.transaction() as s:
        rest = verify_log(s, platform.keyring.verify_key, workers=1)
    print(f"live rest after archive, 1 process: {rest.summary()}", flush=True)
    year = PER_DAY * 365
    print(f"on disk: {per_entry:.0f} B/entry in PostgreSQL (heap + indexes); at 300 reads/s "
          f"({PER_DAY / 1e6:.1f} M entries/day): {per_entry * PER_DAY / 1e9:.1f} GB/day, "
          f"{per_entry * year / 1e12:.2f} TB/year live; as gzip segments "
          f"{seg_bytes / max(res.entries, 1) * year / 1e12:.2f} TB/year", flush=True)
    platform.dispose()
    res.path.unlink()
    if not args.keep:
        with psycopg.connect(ADMIN, autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))


if __name__ == "__main__":
    main()
