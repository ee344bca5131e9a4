#!/usr/bin/env python
"""Export benchmark: an anonymised export (pseudonyms, generalisation, k = 5) against writing
the same rows raw, in the same run, on the same database.

    python -m scripts.bench.export_bench --people 80000 --seed 7 --workdir var/bench/export
    python -m scripts.bench.export_bench --workdir var/bench/export --reuse   # skip ingest

Setup (not timed in the ratio): generated records are ingested through the real ingest
(``ingest_records``) into a SQLite (default) or PostgreSQL (``--db``) database, and every
active customer is given the ``marketing_health`` consent the profile's health field needs, so
that the whole population is eligible (the shipped profiles export only the consenting share).

Measured, each phase in a fresh child process so that peak memory is its own:
  raw     the eligible rows (same consent filter, same decryption of the unified view),
          written untransformed to CSV and Parquet: the baseline.
  export  ``run_export`` of a profile shaped like bi_weekly (pseudonymised customer id,
          age band, gender and city as quasi-identifiers with k = 5, month generalisation),
          CSV + Parquet, spool + k-anonymity + signed manifest + atomic publish.
For each: wall seconds, rows, peak RSS, and RSS sampled at 10 %, 50 % and 100 % of the rows
(flat = memory does not grow with the row count): for the export, of its first pass (read,
transform, spool) and of its second (spool -> files). Ratio = export / raw.

Peak RSS is the child's own high-water mark (VmHWM): getrusage's ru_maxrss is not, it keeps
the parent's RSS across fork + exec (after an ingest in the same run, the parent's).
The 1-minute load average is printed at the start and end of each phase.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

PROFILE = """
description = "benchmark: bi_weekly's shape over the whole population"
recipient = "bench_team"
purpose = "analytics"
objection_purpose = ""
health_consent_purpose = "marketing_health"
formats = ["csv", "parquet"]
k = 5
max_suppression = 0.05
[[fields]]
name = "customer"
source = "customer_id"
transform = "pseudonym"
[[fields]]
source = "name"
transform = "drop"
[[fields]]
source = "phone"
transform = "drop"
[[fields]]
name = "age_band"
source = "birth_date"
transform = "age_band"
band = 10
quasi_identifier = true
[[fields]]
source = "gender"
transform = "keep"
quasi_identifier = true
[[fields]]
name = "region"
source = "address"
transform = "region"
level = "city"
quasi_identifier = true
[[fields]]
source = "channels"
transform = "keep"
[[fields]]
source = "order_count"
transform = "keep"
[[fields]]
source = "rx_order_count"
transform = "keep"
[[fields]]
source = "total_spend"
transform = "keep"
[[fields]]
name = "first_order_month"
source = "first_order_at"
transform = "month"
[[fields]]
name = "last_order_month"
source = "last_order_at"
transform = "month"
"""
REPO = Path(__file__).resolve().parents[2]


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM, in MB); ru_maxrss where /proc is missing."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def _platform(work: Path, db: str):  # type: ignore[no-untyped-def]
    from cdp.config import Config
    from cdp.platform import Platform

    return Platform(Config(database_url=db, keyring_path=str(work / "keyring.json"),
                           policy_dir=str(work / "policies"), export_dir=str(work / "exports")))


def write_policies(work: Path) -> None:
    """The repository's policies plus the bench profile (rewritten on every run)."""
    shutil.rmtree(work / "policies", ignore_errors=True)
    shutil.copytree(REPO / "policies", work / "policies")
    (work / "policies" / "exports" / "bench.toml").write_text(PROFILE)


def setup(work: Path, db: str, people: int, seed: int) -> dict:
    from sqlalchemy import select

    from cdp.crypto.keyring import Keyring
    from cdp.db import utcnow
    from cdp.identity.models import Consent, Customer
    from cdp.identity.pipeline import ingest_records
    from cdp.identity.records import parse_line
    from cdp.platform import upgrade_schema

    work.mkdir(parents=True, exist_ok=True)
    write_policies(work)
    if not (work / "keyring.json").exists():
        Keyring.generate().save(work / "keyring.json")
    upgrade_schema(db)
    records = work / "records.jsonl"
    subprocess.run([sys.executable, "-m", "scripts.generate_records", "--people", str(people),
                    "--seed", str(seed), "--out", str(records)], cwd=REPO, check=True,
                   capture_output=True)
    platform = _platform(work, db)
    t = time.perf_counter()
    with records.open(encoding="utf-8") as fh:
        summary = ingest_records(platform, ((i, parse_line(line)) for i, line in enumerate(fh)),
                                 actor="bench", batch_size=1000)
    ingest_s = time.perf_counter() - t
    now = utcnow()
    with platform.transaction() as s:
        ids = list(s.scalars(select(Customer.id).where(Customer.status == "active")))
        s.execute(Consent.__table__.insert(), [
            {"customer_id": c, "purpose": "marketing_health", "granted": True, "at": now,
             "channel": "bench", "version": None, "created_at": now} for c in ids])
    platform.dispose()
    return {"ingest_seconds": round(ingest_s, 1), "records": summary.accepted, "customers": len(ids)}


def phase(work: Path, db: str, which: str) -> dict:
    """Run one phase in this (child) process; returns its figures."""
    from cdp.exports.profiles import SOURCE_FIELDS, load_profile
    from cdp.exports.runner import iter_eligible_rows, run_export
    from cdp.exports.writers import open_writer

    platform = _platform(work, db)
    marks: dict[str, float] = {}
    load = [round(os.getloadavg()[0], 2)]
    t = time.perf_counter()
    if which == "raw":
        total = _count(platform)
        profile = load_profile(platform.policies, "bench")
        out = work / "raw"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        cols = sorted(SOURCE_FIELDS)
        writers = [open_writer("csv", out / "raw.csv", [(c, "string") for c in cols]),
                   open_writer("parquet", out / "raw.parquet", [(c, "string") for c in cols])]
        n = 0
        for row in iter_eligible_rows(platform, profile):
            flat = {c: None if row.get(c) is None else str(row[c]) for c in cols}
            for w in writers:
                w.write(flat)
            n += 1
            _mark(marks, n, total)
        for w in writers:
            w.close()
        rows, extra = n, {}
    else:
        total = _count(platform)
        read = [0]
        written: dict[str, float] = {}

        def on_row(n: int) -> None:
            read[0] = n
            _mark(marks, n, total)

        res = run_export(platform, "bench", actor="bench", on_row=on_row,
                         on_written=lambda n: _mark(written, n, read[0]))
        rows = res.rows
        extra = {"suppressed": res.suppressed, "k_reached": res.k_reached,
                 "manifest": str(res.manifest_path), "rss_mb_at_write": written}
    seconds = time.perf_counter() - t
    load.append(round(os.getloadavg()[0], 2))
    platform.dispose()
    return {"phase": which, "seconds": round(seconds, 2), "rows": rows,
            "peak_rss_mb": round(_peak_rss_mb(), 1), "rss_mb_at": marks, "load": load, **extra}


def _count(platform) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from cdp.identity.models import Customer

    with platform.Session() as s:
        return s.scalar(select(func.count()).select_from(Customer).where(Customer.status == "active"))


def _mark(marks: dict[str, float], n: int, total: int) -> None:
    for pct in (10, 50, 100):
        key = f"{pct}%"
        if key not in marks and n >= total * pct / 100:
            marks[key] = round(_rss_mb(), 1)


def _marks(marks: dict[str, float]) -> str:
    return " / ".join(f"{marks[k]:.1f}" if k in marks else "-" for k in ("10%", "50%", "100%")) + " MB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", default="var/bench/export")
    ap.add_argument("--db", default=None, help="SQLAlchemy URL (default: SQLite in the workdir)")
    ap.add_argument("--reuse", action="store_true", help="keep the database of a previous run")
    ap.add_argument("--phase", choices=("raw", "export"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    from scripts.bench.procstat import print_machine

    print_machine()
    work = Path(args.workdir).resolve()
    db = args.db or f"sqlite:///{work / 'cdp.db'}"
    if args.phase:
        print(json.dumps(phase(work, db, args.phase)))
        return 0
    info: dict = {}
    write_policies(work)
    if not args.reuse:
        if args.db is None and (work / "cdp.db").exists():
            (work / "cdp.db").unlink()
        info = setup(work, db, args.people, args.seed)
        print(f"setup: ingested {info['records']} records -> {info['customers']} active customers "
              f"in {info['ingest_seconds']} s", flush=True)
    results = {}
    for which in ("raw", "export"):
        proc = subprocess.run([sys.executable, "-m", "scripts.bench.export_bench", "--workdir",
                               str(work), "--db", db, "--phase", which], cwd=REPO,
                              capture_output=True, text=True, check=True)
        results[which] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[which]
        print(f"{which:6s}: {r['rows']:>7,} rows in {r['seconds']:7.2f} s "
              f"({r['rows'] / max(r['seconds'], 1e-9):,.0f} rows/s), peak RSS {r['peak_rss_mb']} MB, "
              f"RSS at 10/50/100 % of rows: {_marks(r['rss_mb_at'])}"
              + (f", of the write pass: {_marks(r['rss_mb_at_write'])}" if "rss_mb_at_write" in r else "")
              + f"; load average {r['load'][0]} -> {r['load'][1]}", flush=True)
    raw, exp = results["raw"], results["export"]
    print(f"export: suppressed {exp['suppressed']}, k reached {exp['k_reached']}")
    print(f"ratio export/raw: time {exp['seconds'] / raw['seconds']:.2f}x, "
          f"peak memory {exp['peak_rss_mb'] / raw['peak_rss_mb']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
