#!/usr/bin/env python
"""Ingest at scale on PostgreSQL: does the rate hold as the database grows, what does a
customer cost on disk, does memory stay flat?

    # the issue's run (about 2.8 million records; hours on 2 shared cores):
    python -m scripts.bench.ingest_scale --people 1000000
    # reduced, as run in the session that wrote it:
    python -m scripts.bench.ingest_scale --people 20000 --keep

Generates ``--people`` people with scripts/generate_records.py (deterministic, seed 7;
kept in var/bench/ for the next run), ingests them into a fresh database
``cdp_bench_scale_<people>`` through the same ``ingest_lines`` as ``cdp ingest`` (batches of
5,000, the preparing worker process as on 2+ cores), and records after every batch the
time, the records done and the RSS of this process and of its worker.

Reports
- records/s over the first window (the first 100,000 records, or the first 10% when the
  file is smaller) and over the last 10%; their ratio (goal >= 0.70);
- the whole run's records/s beside the machine figure (``sum(range(10**7))``) and a
  same-run baseline: a plain insert of the same lines (executemany of the JSON text);
- database size per customer and per source record (``pg_database_size``, after VACUUM);
- RSS of the ingesting process and its worker: the highest in the first and in the last
  quarter of the run (flat = the last no more than 10% above the first);
- CPU seconds of the ingesting process and of its preparing workers, per 1,000 records (the
  figure to compare code by on a shared machine, where wall time counts the other tenants);
- the workers' CPU per 1,000 records over the two windows of the ratio, and the ratio scaled
  by it: the workers' work does not depend on the database, so a fall in their CPU per
  record means the machine ran faster late in the run, which flatters the raw ratio.

``--keep`` keeps the database (the open-loop bench reads it: scripts/bench/openloop_bench.py).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from cdp.config import Config
from cdp.crypto.keyring import Keyring
from cdp.platform import Platform, upgrade_schema
from scripts.bench.procstat import children, cpu_s, pg_backends, print_machine, rss_mb

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def generate(people: int) -> Path:
    out = ROOT / "var" / "bench" / f"scale_{people}.jsonl"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_records.py"),
                        "--people", str(people), "--seed", "7", "--out", str(out)], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"generated {out} in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def fresh(name: str) -> str:
    with psycopg.connect(ADMIN, autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    upgrade_schema(BASE + name)
    return BASE + name


SERVER_SETTINGS = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_compression",
                   "autovacuum")


def server_counters(conn: psycopg.Connection, database: str) -> tuple[float, ...]:
    """(WAL MB, full-page images, blocks read, blocks hit, checkpoints) so far: the cluster's
    WAL and checkpoints (nothing else writes during the benchmark), the database's blocks."""
    row = conn.execute(
        "SELECT w.wal_bytes / 1e6, w.wal_fpi, d.blks_read, d.blks_hit, "
        "b.checkpoints_timed + b.checkpoints_req FROM pg_stat_wal w, pg_stat_bgwriter b, "
        "pg_stat_database d WHERE d.datname = %s", (database,)).fetchone()
    return tuple(float(v) for v in row) if row else (0.0,) * 5


def _cpu_s() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=1 if (os.cpu_count() or 1) >= 2 else 0)
    ap.add_argument("--keep", action="store_true", help="keep the database for openloop_bench")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--lines", type=int, default=None,
                    help="ingest only the file's first N lines (a short before/after run)")
    args = ap.parse_args()

    machine_ms = print_machine()
    path = generate(args.people)
    total_lines = sum(1 for _ in path.open(encoding="utf-8"))
    if args.lines:
        total_lines = min(total_lines, args.lines)
    name = f"cdp_bench_scale_{args.people}"
    url = fresh(name)
    keyring = ROOT / "var" / "bench" / f"{name}_keyring.json"
    Keyring.generate().save(keyring)
    platform = Platform(Config(database_url=url, keyring_path=str(keyring),
                               policy_dir=str(ROOT / "policies")))

    from cdp.identity.pipeline import IngestSummary, bulk_gc, ingest_lines

    samples: list[tuple[float, int, float, float]] = []  # (t, done, rss self, rss workers)
    worker_cpu_at: list[float] = []  # the workers' CPU seconds so far, at each sample
    done = 0
    me = os.getpid()
    t0 = time.perf_counter()

    mark = (0.0, 0, 0, 0)  # (t, done, candidates, from records) at the last progress line
    stats_conn = psycopg.connect(url.replace("+psycopg", ""), autocommit=True)
    server_mark = server_counters(stats_conn, name)
    # the server's settings that decide how its cost grows with the database (docs/operations.md)
    print("server: " + ", ".join(
        f"{k} {stats_conn.execute(sql.SQL('SHOW {}').format(sql.Identifier(k))).fetchone()[0]}"  # type: ignore[index]
        for k in SERVER_SETTINGS), flush=True)
    cpu_seen: dict[int, float] = {}  # pid -> CPU seconds at the last progress line

    def cpu_since_mark(pids: list[int]) -> float:
        """CPU seconds ``pids`` used since the last progress line (new ones: since they
        started)."""
        used = 0.0
        for pid in pids:
            now = cpu_s(pid)
            if now is not None:
                used += now - cpu_seen.get(pid, 0.0)
                cpu_seen[pid] = now
        return used

    def on_batch(n: int) -> None:
        nonlocal done, mark, server_mark
        done += n
        samples.append((time.perf_counter() - t0, done, rss_mb(me),
                        sum(rss_mb(c) for c in children(me))))
        worker_cpu_at.append(sum(cpu_s(c) or 0.0 for c in children(me)))
        if len(samples) % 20 == 0:
            t, d, c, fr = mark
            per_k = 1000 / max(done - d, 1)
            cpu = [cpu_since_mark(p) * per_k for p in ([me], children(me), pg_backends(name))]
            server_now = server_counters(stats_conn, name)
            wal_mb, fpi, blks_read, blks_hit, ckpt = (
                (b - a) for a, b in zip(server_mark, server_now, strict=True))
            server_mark = server_now
            # candidates: stored customers each record made the resolver read and decrypt,
            # over the stretch since the last line (what blocking costs as the data grows),
            # and of those, the ones read from their records (no cached or stored summary);
            # CPU per 1,000 records of the storing process, its worker and PostgreSQL
            print(f"  {done:,} records, {done / samples[-1][0]:,.0f}/s overall, "
                  f"{(done - d) / (samples[-1][0] - t):,.0f}/s since the last line, "
                  f"{(summary.candidates - c) * per_k / 1000:.1f} candidates per record "
                  f"({(summary.from_records - fr) * per_k / 1000:.2f} from their records), CPU s "
                  f"per 1,000 records: storing {cpu[0]:.2f}, worker {cpu[1]:.2f}, PostgreSQL "
                  f"{cpu[2]:.2f}; rss {samples[-1][2]:.0f}+{samples[-1][3]:.0f} MB", flush=True)
            # what the server did for them: WAL written and its full-page images (the first
            # change of a page after a checkpoint logs the whole page), pages read from outside
            # shared buffers (the OS cache or the disk) and found in them, checkpoints begun
            print(f"    server per 1,000 records: WAL {wal_mb * per_k:.2f} MB "
                  f"({fpi * per_k:,.0f} full-page images), pages read {blks_read * per_k:,.0f}, "
                  f"hit {blks_hit * per_k:,.0f}; checkpoints {ckpt}", flush=True)
            mark = (samples[-1][0], done, summary.candidates, summary.from_records)

    summary = IngestSummary()
    cpu_since_mark([me])
    cpu0 = _cpu_s()
    with path.open(encoding="utf-8") as fh, bulk_gc():
        lines = enumerate(itertools.islice(fh, total_lines), start=1)
        ingest_lines(platform, lines, actor="bench:ingest_scale",
                     on_reject=lambda n, reason: None, batch_size=args.batch_size,
                     summary=summary, on_batch=on_batch, workers=args.workers)
    elapsed = time.perf_counter() - t0
    stats_conn.close()
    platform.dispose()
    main_cpu, worker_cpu = (b - a for a, b in zip(cpu0, _cpu_s(), strict=True))
    print(f"ingested: {summary.line()} in {elapsed:.0f} s = {summary.read / elapsed:,.0f} records/s",
          flush=True)
    # CPU time is what a shared machine does not distort (the workers have exited and been
    # waited for by now, so RUSAGE_CHILDREN holds them)
    per_k = 1000 / max(summary.read, 1)
    print(f"CPU: ingesting process {main_cpu:.1f} s ({main_cpu * per_k:.2f} s per 1,000 records), "
          f"preparing workers {worker_cpu:.1f} s ({worker_cpu * per_k:.2f} s per 1,000), "
          f"both {(main_cpu + worker_cpu) * per_k:.2f} s per 1,000 records; load average at the "
          f"end {os.getloadavg()[0]:.1f}", flush=True)

    def rate_between(lo: int, hi: int) -> float:
        # the batch samples bracketing records lo..hi
        start = max((s for s in samples if s[1] <= lo), key=lambda s: s[1], default=(0.0, 0, 0, 0))
        end = min((s for s in samples if s[1] >= hi), key=lambda s: s[1], default=samples[-1])
        return (end[1] - start[1]) / max(end[0] - start[0], 1e-9)

    first_n = min(100_000, max(args.batch_size, done // 10))
    first = rate_between(0, first_n)
    last = rate_between(done - done // 10, done)
    print(f"rate: first {first_n:,} records {first:,.0f}/s, last 10% ({done // 10:,}) "
          f"{last:,.0f}/s, last/first {last / first:.2f} (goal >= 0.70)", flush=True)

    def worker_cpu_between(lo: int, hi: int) -> float | None:
        """The workers' CPU seconds per 1,000 records between the samples bracketing lo..hi,
        from the first batch's end at the earliest (start-up and first use excluded). The
        workers run up to ``workers + 1`` batches ahead of the storing process, which cancels
        between two samples of a steady run but not at its end, where they have nothing left
        to do: the last few samples are left out."""
        ahead = args.workers + 2
        if not args.workers or len(samples) < 2 * ahead + 2:
            return None
        i = max((k for k, s in enumerate(samples) if s[1] <= lo), default=0)
        j = min((k for k, s in enumerate(samples) if s[1] >= hi), default=len(samples) - 1)
        j = min(j, len(samples) - 1 - ahead)
        if j <= i:
            return None
        return (worker_cpu_at[j] - worker_cpu_at[i]) * 1000 / max(samples[j][1] - samples[i][1], 1)

    # The worker's work does not depend on the database: a change in its CPU per record
    # between the two windows is the machine (or contention), and the rate ratio scaled by
    # it is the ratio a steady machine would have given (the worker's own memoised normal
    # forms make it up to ~10 % cheaper late in a run, which this counts as the machine).
    w_first, w_last = worker_cpu_between(0, first_n), worker_cpu_between(done - done // 10, done)
    scaled = None
    if w_first and w_last:
        scaled = last / first * w_last / w_first
        print(f"worker CPU per 1,000 records: first window {w_first:.2f} s, last 10% {w_last:.2f} s; "
              f"last/first scaled by it {scaled:.2f}", flush=True)

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
        customers = conn.execute("SELECT count(*) FROM customers").fetchone()[0]  # type: ignore[index]
        records = conn.execute("SELECT count(*) FROM source_records").fetchone()[0]  # type: ignore[index]
        audit = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]  # type: ignore[index]
        biggest = conn.execute(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "AND c.relkind IN ('r', 'p') ORDER BY 2 DESC LIMIT 6"
        ).fetchall()
    print(f"database: {size / 1e6:,.0f} MB for {customers:,} customers / {records:,} records "
          f"({audit:,} audit entries): {size / max(customers, 1):,.0f} B/customer, "
          f"{size / max(records, 1):,.0f} B/record", flush=True)
    print("largest tables: " + ", ".join(f"{n} {b / 1e6:,.0f} MB" for n, b in biggest), flush=True)
    q = max(1, len(samples) // 4)
    head, tail = samples[:q], samples[-q:]
    print(f"memory (RSS, MB): ingesting process first quarter max {max(s[2] for s in head):.0f}, "
          f"last quarter max {max(s[2] for s in tail):.0f}; worker {max(s[3] for s in head):.0f} -> "
          f"{max(s[3] for s in tail):.0f}", flush=True)

    base_s = None
    if not args.skip_baseline:
        from scripts.bench.ingest_throughput import plain_insert

        n, base_s = plain_insert(path, url)
        print(f"baseline: plain insert of the same {n:,} lines {base_s:.1f} s = {n / base_s:,.0f}/s; "
              f"ingest / plain: {elapsed / base_s:.1f}x the time", flush=True)
    print("RESULT " + json.dumps({
        "people": args.people, "lines": total_lines, "records_per_s": round(summary.read / elapsed),
        "first_window": first_n, "first_rate": round(first), "last10_rate": round(last),
        "last_over_first": round(last / first, 2),
        "last_over_first_scaled": round(scaled, 2) if scaled else None,
        "bytes_per_customer": round(size / max(customers, 1)),
        "bytes_per_record": round(size / max(records, 1)), "machine_ms": round(machine_ms),
        "plain_insert_s": round(base_s, 1) if base_s else None, "ingest_s": round(elapsed),
        "cpu_main_s": round(main_cpu, 1), "cpu_workers_s": round(worker_cpu, 1),
        "candidates_per_record": round(summary.candidates / max(summary.read, 1), 1),
        "from_records_per_record": round(summary.from_records / max(summary.read, 1), 2),
    }), flush=True)
    if args.keep:
        print(f"kept: --database-url {url} --keyring {keyring}")
    else:
        with psycopg.connect(ADMIN, autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
