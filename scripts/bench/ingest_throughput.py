#!/usr/bin/env python
"""Bulk ingest throughput end to end (normalise, classify, redact, encrypt, index, resolve,
store, audit) through `cdp ingest`, against a plain insert of the same lines in the same run.

    python scripts/bench/ingest_throughput.py --people 36000            # ~100k records, SQLite
    python scripts/bench/ingest_throughput.py --people 36000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/cdp_ingest_bench

    python scripts/bench/ingest_throughput.py --people 3000 --zh-model both --rounds 3

``--zh-model both`` ingests the same file with the Chinese name model off and on
(``CDP_PII_ZH_MODEL``), alternating, each into a fresh database, and reports the model's
cost as the ratio of the best runs (wall and CPU time).

Baseline: the same JSONL streamed into one table (source, source_record_id, raw JSON text)
with executemany in batches of 500 and a commit per batch: no validation, encryption or
resolution. Reports records/s of both, the ratio, and the RSS of the `cdp ingest` process
and its preparing worker sampled through the run (the file is streamed: memory should level
off, not grow with the file).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench.procstat import children, cpu_s, status_mb
from scripts.bench.resolution_quality import REPO, cdp_command, fresh_database


def plain_insert(path: Path, url: str) -> tuple[int, float]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    meta = sa.MetaData()
    table = sa.Table(
        "plain_records_bench", meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64)),
        sa.Column("source_record_id", sa.String(200)),
        sa.Column("body", sa.Text),
    )
    meta.create_all(engine)
    n = 0
    t = time.perf_counter()
    with open(path, encoding="utf-8") as f:
        batch: list[dict] = []
        for line in f:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            batch.append({"source": obj.get("source"), "source_record_id": obj.get("source_record_id"),
                          "body": line})
            if len(batch) >= 500:
                with engine.begin() as conn:
                    conn.execute(table.insert(), batch)
                n += len(batch)
                batch = []
        if batch:
            with engine.begin() as conn:
                conn.execute(table.insert(), batch)
            n += len(batch)
    elapsed = time.perf_counter() - t
    meta.drop_all(engine)
    engine.dispose()
    return n, elapsed


def run_sampled(cmd: list[str], env: dict[str, str],
                pg_url: str | None = None) -> tuple[subprocess.CompletedProcess, list, float]:
    """Run ``cmd``, sampling every 0.5 s the RSS and high-water mark of the process and of its
    worker children (their own figures: getrusage's ru_maxrss of a child starts from the
    parent's at fork, so it cannot tell) and, with ``pg_url``, the CPU time of the PostgreSQL
    server processes serving that database (the server's share of the ingest, on the same
    cores). Returns (process, samples, server CPU seconds)."""
    server = None
    if pg_url:
        import psycopg

        dbname = pg_url.rsplit("/", 1)[1].split("?")[0]
        server = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"),
                                 autocommit=True)
        own = server.info.backend_pid
    server_cpu: dict[int, float] = {}
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, float, float, float, float]] = []
    start = time.perf_counter()
    while proc.poll() is None:
        rss, hwm = status_mb(proc.pid, "VmRSS", "VmHWM")
        kids = [status_mb(c, "VmRSS", "VmHWM") for c in children(proc.pid)]
        if rss:
            samples.append((time.perf_counter() - start, rss, sum(k[0] for k in kids), hwm,
                            sum(k[1] for k in kids)))
        if server is not None:
            for (pid,) in server.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                    (dbname, own)).fetchall():
                cpu = cpu_s(pid)
                if cpu is not None:
                    server_cpu[pid] = cpu
        time.sleep(0.5)
    out, err = proc.communicate()
    if server is not None:
        server.close()
    return (subprocess.CompletedProcess(cmd, proc.returncode, out, err), samples,
            sum(server_cpu.values()))


def _at(samples: list, col: int) -> str:
    if not samples:
        return "-"
    pick = [samples[min(len(samples) - 1, int(len(samples) * q))][col] for q in (0.1, 0.25, 0.5, 0.75, 1.0)]
    return " / ".join(f"{v:,.0f}" for v in pick)


def ingest_once(records: Path, tmp: Path, args: argparse.Namespace, zh_model: str,
                plain: bool) -> dict | None:
    """One `cdp ingest` of ``records`` into a fresh database (and, with ``plain``, the plain
    insert baseline into the same database first). None when the ingest failed."""
    url_arg = (_variant_url(args.database_url, zh_model) if args.zh_model == "both"
               else args.database_url)
    with fresh_database(url_arg, tmp) as url:
        if url.startswith("sqlite"):
            db = tmp / f"cdp-{zh_model}.db"
            db.unlink(missing_ok=True)
            url = f"sqlite:///{db}"
        env = dict(os.environ, CDP_DATABASE_URL=url, CDP_KEYRING=str(tmp / "keyring.json"),
                   CDP_POLICY_DIR=str(REPO / "policies"), CDP_PII_ZH_MODEL=zh_model)
        subprocess.run([*cdp_command(), "init"], env=env, cwd=REPO, check=True,
                       capture_output=True)
        base = plain_insert(records, url) if plain else None
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc, samples, server_cpu = run_sampled(
            [*cdp_command(), "ingest", "--batch-size", str(args.batch_size),
             *(["--workers", str(args.workers)] if args.workers is not None else []),
             str(records)],
            env=env, pg_url=url if url.startswith("postgresql") else None,
        )
        elapsed = time.perf_counter() - t
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return None
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the ingest process: on a shared machine wall time also counts the
    # other tenants, CPU time does not.
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"proc": proc, "samples": samples, "server_cpu": server_cpu, "elapsed": elapsed,
            "cpu_s": cpu_s, "base": base, "load": os.getloadavg()[0]}


def _variant_url(url: str | None, zh_model: str) -> str | None:
    """A PostgreSQL database per variant (each run starts from an empty database)."""
    if url and url.startswith("postgresql"):
        return f"{url}_{zh_model}"
    return url


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", type=int, default=36000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--database-url", help="PostgreSQL URL of a database to create for the run")
    ap.add_argument("--batch-size", type=int, default=5000, help="as `cdp ingest` (its default)")
    ap.add_argument("--workers", type=int, default=None,
                    help="`cdp ingest --workers N` (default: as `cdp ingest`, 1 on 2+ cores)")
    ap.add_argument("--zh-model", choices=("on", "off", "both"), default="on",
                    help="the Chinese name model (CDP_PII_ZH_MODEL); `both` ingests twice in "
                         "this run, alternating off/on/off/on over --rounds, and reports the ratio")
    ap.add_argument("--rounds", type=int, default=1, help="with --zh-model both: pairs to run")
    args = ap.parse_args(argv)

    from scripts.generate_records import generate

    tmp = Path(tempfile.mkdtemp(prefix="cdp-ingest-bench-"))
    try:
        records = tmp / "records.jsonl"
        generate(args.people, args.seed, records)
        with open(records, encoding="utf-8") as f:
            lines = sum(1 for _ in f)
        machine = min(timeit.repeat("sum(range(10**7))", number=1, repeat=3)) * 1000
        variants = (["off", "on"] * max(1, args.rounds) if args.zh_model == "both"
                    else [args.zh_model])
        runs: dict[str, list[dict]] = {"on": [], "off": []}
        for i, variant in enumerate(variants):
            run = ingest_once(records, tmp, args, variant, plain=i == 0)
            if run is None:
                return 2
            runs[variant].append(run)
        backend = "postgresql" if (args.database_url or "").startswith("postgresql") else "sqlite"
        print(f"ingest throughput — {lines:,} lines ({args.people:,} people, seed {args.seed}), {backend}, "
              f"batch {args.batch_size}, workers {'default' if args.workers is None else args.workers}")
        print(f"  machine: sum(range(10**7)) {machine:.0f} ms, {os.cpu_count()} CPUs")
        base_n, base_s = next(r["base"] for rs in runs.values() for r in rs if r["base"])
        base_rate = base_n / base_s
        for variant in ("off", "on"):
            for run in runs[variant]:
                rate = lines / run["elapsed"]
                print(f"  Chinese name model {variant}: {run['proc'].stdout.strip().splitlines()[-1]}")
                print(f"    end to end  {run['elapsed']:8.1f} s  {rate:10,.0f} records/s  "
                      "(process start included)")
                print(f"    CPU time    {run['cpu_s']:8.1f} s  {lines / run['cpu_s']:10,.0f} "
                      f"records per CPU-second  (load average {run['load']:.1f})")
                if backend == "postgresql":
                    # sampled every 0.5 s: a backend's last half second may be missed
                    print(f"    PostgreSQL  {run['server_cpu']:8.1f} s  server CPU of the "
                          f"database's backends ({(run['cpu_s'] + run['server_cpu']) * 1000 / lines:.2f}"
                          " ms of CPU per record with the ingest's)")
                print(f"    ratio platform / plain insert: {rate / base_rate:.3f}")
                print(f"    RSS of `cdp ingest` (MB) at 10/25/50/75/100 % of the run: "
                      f"main {_at(run['samples'], 1)}, preparing workers {_at(run['samples'], 2)}")
                print(f"    peak RSS (VmHWM): main {max((s[3] for s in run['samples']), default=0):,.0f}"
                      f" MB, workers {max((s[4] for s in run['samples']), default=0):,.0f} MB")
        print(f"  plain insert {base_s:7.1f} s  {base_rate:10,.0f} records/s  "
              "(no validation, encryption, resolution)")
        if runs["on"] and runs["off"]:
            on_wall = min(r["elapsed"] for r in runs["on"])
            off_wall = min(r["elapsed"] for r in runs["off"])
            on_cpu = min(r["cpu_s"] for r in runs["on"])
            off_cpu = min(r["cpu_s"] for r in runs["off"])
            print(f"  model on / off (best of {len(runs['on'])}): records/s {off_wall / on_wall:.3f}, "
                  f"records per CPU-second {off_cpu / on_cpu:.3f}  "
                  f"(the model costs {100 * (on_wall / off_wall - 1):.1f} % wall, "
                  f"{100 * (on_cpu / off_cpu - 1):.1f} % CPU)")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
