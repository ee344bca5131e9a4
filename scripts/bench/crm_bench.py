#!/usr/bin/env python
"""CRM benchmarks: the BG/NBD fit and scoring, the CDNOW sample, `cdp crm refresh`.

    python -m scripts.bench.crm_bench fit                      # 100k and 1M synthetic customers
    python -m scripts.bench.crm_bench cdnow [--database-url URL]
    python -m scripts.bench.crm_bench refresh --people 80000 [--database-url URL] [--reuse DIR]
    python -m scripts.bench.crm_bench compare DIR_A DIR_B     # two refreshed copies: equal?

Every run prints a machine figure (the time of ``sum(range(10**7))``) and a baseline measured
in the same run:

fit: synthetic customers drawn from known parameters (cohort over two years, purchases on
whole days, weeks as the time unit); the fit's time at 100,000 and 1,000,000 customers,
scoring (probability alive, expected purchases, 12-month value) of 100,000, and how far
each recovered parameter is from the truth (goal: within 5 %). Baseline: the same 100,000
fitted without merging identical (x, t_x, T) rows.

cdnow: the CDNOW sample of Fader, Hardie & Lee (2005) from the ``lifetimes`` wheel (a
test-only dependency: ``pip download lifetimes --no-deps`` works as well, pass --sample).
Each of its 2,357 customers becomes a source record (a member id and the orders), ingested
with ``cdp ingest`` into a fresh database, then ``cdp crm clv fit --calibration-end
1997-09-30 --holdout-end 1998-06-30`` is run; its line is compared with the published fit
(r 0.243, alpha 4.414, a 0.793, b 2.426; goal within 2 %) and the 39-week holdout (goal:
predicted within 15 % of actual). Baseline: the same fit in process on the sample's rows.

refresh: the generator's records for --people people (about 1.25 customers a person) with
care_reminders and profiling consents added to some records, ``cdp init`` + ``cdp ingest``,
then ``refresh()`` timed in process with its phases and the process's peak RSS; baseline:
a plain SQL pass over the same orders (every source record's encrypted orders read, as the
refresh must read them). Goal: 100,000 customers under 60 s. Memory: each run's peak RSS over
the RSS at its start (the peak is reset before each run, Linux ``/proc/self/clear_refs``);
run at two sizes (``--people 8000`` and ``80000``), the difference over the difference in
customers is what the refresh holds per customer.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def machine_figure() -> float:
    t = time.perf_counter()
    sum(range(10**7))
    return round(time.perf_counter() - t, 3)


def _load_avg() -> float:
    return round(os.getloadavg()[0], 2)


def _rss_mb(field: str) -> float | None:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the process's peak RSS (Linux: ``5`` to /proc/self/clear_refs), so a run's peak
    is its own and not an earlier step's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# -- fit ----------------------------------------------------------------------------------
def synthetic(n: int, seed: int, true: dict[str, float]) -> tuple[np.ndarray, ...]:
    """Customers whose first purchase falls over two years, observed to the end: T in whole
    days, purchases on whole days, both in weeks."""
    from cdp.crm.clv import simulate_bgnbd

    rng = np.random.default_rng(seed)
    T_days = rng.integers(7, 730, n).astype(float)
    x = np.zeros(n)
    tx = np.zeros(n)
    # simulate per distinct T block (the simulator takes one T): 104 weekly cohorts
    cohorts = np.clip((T_days // 7).astype(int), 1, 104)
    for k in np.unique(cohorts):
        idx = np.nonzero(cohorts == k)[0]
        xs, txs, _ = simulate_bgnbd(idx.size, true["r"], true["alpha"], true["a"], true["b"],
                                    float(k), seed=seed + int(k))
        x[idx], tx[idx] = xs, np.floor(txs * 7) / 7
    T = cohorts.astype(float)
    return x, np.minimum(tx, T), T


def bench_fit(args: argparse.Namespace) -> dict[str, Any]:
    from cdp.crm import clv

    true = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    out: dict[str, Any] = {"machine_sum_range_1e7_s": machine_figure(), "load": _load_avg(),
                           "true": true}
    for n in args.sizes:
        x, tx, T = synthetic(n, 7, true)
        (ux, _, _), _ = clv.merge_rows(x, tx, T)
        t = time.perf_counter()
        p = clv.fit_bgnbd(x, tx, T)
        secs = time.perf_counter() - t
        err = {k: round(abs(getattr(p, k) - v) / v, 4) for k, v in true.items()}
        row = {"customers": n, "distinct_rows": int(ux.size), "fit_s": round(secs, 3),
               "params": {k: round(getattr(p, k), 4) for k in true}, "rel_error": err,
               "within_5pct": all(e <= 0.05 for e in err.values())}
        if n == args.sizes[0]:
            t = time.perf_counter()
            clv.fit_bgnbd(x, tx, T, merge=False)
            row["baseline_unmerged_fit_s"] = round(time.perf_counter() - t, 3)
            row["ratio_merged_over_unmerged"] = round(secs / row["baseline_unmerged_fit_s"], 3)
            t = time.perf_counter()
            clv.score(p, x, tx, T, horizon=90 / 7, months=12, days_per_unit=7,
                      annual_discount=0.1).value(np.full(n, 50.0))
            row["score_s"] = round(time.perf_counter() - t, 3)
        out[f"n{n}"] = row
        print(json.dumps(row), flush=True)
    print(json.dumps({k: out[k] for k in ("machine_sum_range_1e7_s", "load", "true")}), flush=True)
    return out


# -- cdnow --------------------------------------------------------------------------------
def cdnow_sample(path: str | None) -> Path:
    if path:
        return Path(path)
    import importlib.metadata

    try:
        dist = importlib.metadata.distribution("lifetimes")
    except importlib.metadata.PackageNotFoundError:
        sys.exit("install the dev extra (lifetimes) or pass --sample CDNOW_sample.txt")
    return Path(str(dist.locate_file("lifetimes/datasets/CDNOW_sample.txt")))


def cdnow_records(sample: Path) -> list[dict[str, Any]]:
    per: dict[str, list[dict[str, Any]]] = {}
    for i, line in enumerate(sample.read_text().splitlines()):
        _, cid, d, qty, amount = line.split()
        day = f"{d[:4]}-{d[4:6]}-{d[6:]}"
        per.setdefault(cid, []).append({
            "order_id": f"CD{i}", "ordered_at": f"{day}T12:00:00+08:00",
            "items": [{"sku": "CD", "name": "cd", "rx": False, "qty": int(qty),
                       "unit_price": round(float(amount) / max(int(qty), 1), 2)}],
            "total": float(amount)})
    return [{"source": "app", "source_record_id": f"cdnow-{cid}",
             "observed_at": "1998-07-01T00:00:00+08:00",
             "identifiers": [{"type": "member_id", "value": f"CDNOW{cid}"}], "orders": orders}
            for cid, orders in per.items()]


def _env(url: str, work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CDP_DATABASE_URL=url, CDP_KEYRING=str(work / "keyring.json"),
               CDP_POLICY_DIR=str(REPO / "policies"), CDP_EXPORT_DIR=str(work / "exports"))
    return env


def _cdp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cdp = str(Path(sys.executable).with_name("cdp"))
    res = subprocess.run([cdp, *args], check=False, env=env, capture_output=True, text=True, timeout=3600)
    if res.returncode != 0:
        sys.exit(f"cdp {' '.join(args)} failed: {res.stderr[-2000:]}")
    return res


def _fresh_db(url: str | None, work: Path, name: str) -> str:
    if url is None:
        return f"sqlite:///{work / 'cdp.db'}"
    import psycopg
    from psycopg import sql

    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + "/postgres"
    dbname = url.rsplit("/", 1)[1] or name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return url


def bench_cdnow(args: argparse.Namespace) -> dict[str, Any]:
    from cdp.crm import clv

    sample = cdnow_sample(args.sample)
    work = Path(tempfile.mkdtemp(prefix="crm-cdnow-"))
    url = _fresh_db(args.database_url, work, "cdp_bench_cdnow")
    env = _env(url, work)
    recs = cdnow_records(sample)
    path = work / "cdnow.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out: dict[str, Any] = {"machine_sum_range_1e7_s": machine_figure(), "load": _load_avg(),
                           "records": len(recs)}
    _cdp(env, "init")
    t = time.perf_counter()
    _cdp(env, "ingest", str(path))
    out["ingest_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    res = _cdp(env, "crm", "clv", "fit", "--calibration-end", "1997-09-30",
               "--holdout-end", "1998-06-30", "--time-unit", "weeks")
    out["clv_fit_command_s"] = round(time.perf_counter() - t, 2)
    line = json.loads(res.stdout.strip())
    out["line"] = line
    out["rel_error_vs_published"] = {k: round(abs(line[k] - v) / v, 4) for k, v in PUBLISHED.items()}
    h = line["holdout"]
    out["holdout_rel_error"] = round(abs(h["predicted"] - h["actual"]) / h["actual"], 4)
    # baseline: the fit alone on the sample's rows, in process
    days: dict[str, set[date]] = {}
    for ln in sample.read_text().splitlines():
        f = ln.split()
        days.setdefault(f[1], set()).add(date(int(f[2][:4]), int(f[2][4:6]), int(f[2][6:])))
    cal = date(1997, 9, 30)
    rows = [sorted(d for d in ds if d <= cal) for ds in days.values()]
    x = np.array([len(r) - 1 for r in rows], float)
    tx = np.array([(r[-1] - r[0]).days / 7 for r in rows])
    T = np.array([(cal - r[0]).days / 7 for r in rows])
    t = time.perf_counter()
    clv.fit_bgnbd(x, tx, T)
    out["baseline_fit_in_process_s"] = round(time.perf_counter() - t, 3)
    print(json.dumps(out), flush=True)
    return out


# -- refresh ------------------------------------------------------------------------------
def _add_consents(src: Path, dst: Path, seed: int) -> None:
    """Care reminders granted on a third of the records, profiling withdrawn on 2 %,
    marketing_health on a quarter (the generator sends none of these purposes)."""
    rng = random.Random(seed)
    with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        for line in fin:
            rec = json.loads(line)
            at = rec.get("observed_at") or "2025-01-01T00:00:00+08:00"
            extra = []
            if rng.random() < 0.33:
                extra.append({"purpose": "care_reminders", "granted": True, "at": at})
            if rng.random() < 0.25:
                extra.append({"purpose": "marketing_health", "granted": True, "at": at})
            if rng.random() < 0.02:
                extra.append({"purpose": "profiling", "granted": False, "at": at})
            if extra:
                rec["consents"] = list(rec.get("consents") or []) + extra
            fout.write(json.dumps(rec, ensure_ascii=False) + "\n")


def bench_refresh(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import func, select, text

    from cdp.config import Config
    from cdp.identity.models import Customer
    from cdp.platform import Platform

    work = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="crm-refresh-"))
    work.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{work / 'cdp.db'}"
    env = _env(url, work)
    out: dict[str, Any] = {"machine_sum_range_1e7_s": machine_figure(), "load": _load_avg(),
                           "work": str(work), "backend": url.split(":", 1)[0]}
    if not (work / "ingested").exists():
        if args.database_url:
            _fresh_db(args.database_url, work, "cdp_bench_crm")
        raw, recs = work / "raw.jsonl", work / "records.jsonl"
        subprocess.run([sys.executable, "-m", "scripts.generate_records", "--people",
                        str(args.people), "--seed", str(args.seed), "--out", str(raw)],
                       cwd=REPO, check=True, capture_output=True, timeout=3600)
        _add_consents(raw, recs, args.seed)
        _cdp(env, "init")
        t = time.perf_counter()
        _cdp(env, "ingest", str(recs))
        out["ingest_s"] = round(time.perf_counter() - t, 1)
        (work / "ingested").write_text("ok")
    platform = Platform(Config(database_url=url, keyring_path=str(work / "keyring.json"),
                               policy_dir=str(REPO / "policies"), export_dir=str(work / "ex")))
    from cdp.crm.refresh import refresh

    with platform.transaction() as s:
        out["customers"] = s.scalar(select(func.count()).select_from(Customer)
                                    .where(Customer.status == "active"))
    # baseline: a plain SQL pass over the same orders (every record's encrypted orders)
    t, cpu = time.perf_counter(), time.process_time()
    with platform.engine.connect() as conn:
        n = nbytes = 0
        for row in conn.execute(text("SELECT customer_id, orders_ct FROM source_records "
                                     "WHERE orders_ct IS NOT NULL ORDER BY customer_id")):
            n += 1
            nbytes += len(row[1])
    out["baseline_plain_sql_pass_s"] = round(time.perf_counter() - t, 3)
    out["baseline_plain_sql_pass_cpu_s"] = round(time.process_time() - cpu, 3)
    out["baseline_rows"], out["baseline_mb"] = n, round(nbytes / 1e6, 1)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for run in range(args.runs):
        load = _load_avg()
        gc.collect()
        reset = _reset_peak_rss()
        rss_start = _rss_mb("VmRSS")
        t, cpu = time.perf_counter(), time.process_time()
        with platform.transaction() as s:
            rep = refresh(s, platform, date.fromisoformat(args.as_of) if args.as_of else None,
                          actor="bench")
        secs = time.perf_counter() - t
        out[f"refresh_{run + 1}"] = {
            "seconds": round(secs, 2), "cpu_s": round(time.process_time() - cpu, 2),
            "load_before": load, "load_after": _load_avg(),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            # the run's own peak over the RSS at its start (peak reset before the run)
            "rss_start_mb": rss_start,
            "run_peak_growth_mb": (round(peak - rss_start, 1)
                                   if reset and rss_start is not None
                                   and (peak := _rss_mb("VmHWM")) is not None else None),
            "phases": rep.seconds, "customers": rep.customers,
            "scored": rep.scored, "segments_entered": rep.segments_entered,
            "segments_left": rep.segments_left, "points_accrued": rep.points_accrued,
            "care_tasks": rep.care_tasks_created, "complaints": rep.complaints_opened,
            "ratio_vs_plain_pass": round(secs / max(out["baseline_plain_sql_pass_s"], 1e-6), 1),
            "bg_nbd": {k: round(v, 4) for k, v in rep.bg_nbd.items()}}
        print(json.dumps(out[f"refresh_{run + 1}"]), flush=True)
    out["peak_rss_mb_before_refresh"] = round(rss0 / 1024, 1)
    out["peak_rss_mb_after_refresh"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    t = time.perf_counter()
    res = _cdp(env, "crm", "reminders", "--due-within", "7")
    out["reminders_s"] = round(time.perf_counter() - t, 2)
    out["reminders_rows"] = len(res.stdout.strip().splitlines()) - 1
    platform.dispose()
    print(json.dumps(out), flush=True)
    return out


# -- compare ------------------------------------------------------------------------------
def _crm_state(work: Path) -> dict[str, Any]:
    """What a refresh leaves, decrypted: every profile's traits (without ``as_of``), open
    segment stays, ledger sums and entry count, tiers, clear profile columns, counts of care
    tasks and tickets."""
    from sqlalchemy import func, select

    import cdp.models  # noqa: F401 - every table mapped
    from cdp.config import Config
    from cdp.crm.models import CareTask, Complaint, CrmProfile, LoyaltyAccount, LoyaltyEntry, SegmentMember
    from cdp.crm.reads import load_traits
    from cdp.platform import Platform

    p = Platform(Config(database_url=f"sqlite:///{work / 'cdp.db'}",
                        keyring_path=str(work / "keyring.json"),
                        policy_dir=str(REPO / "policies"), export_dir=str(work / "ex")))
    with p.transaction() as s:
        traits = load_traits(s, p, list(s.scalars(select(CrmProfile.customer_id))))
        for t in traits.values():
            t.pop("as_of", None)
        out = {
            "traits": traits,
            "open_stays": set(s.execute(select(SegmentMember.segment, SegmentMember.customer_id)
                                        .where(SegmentMember.left_at.is_(None))).all()),
            "stays": s.scalar(select(func.count()).select_from(SegmentMember)),
            "ledger_sums": dict(s.execute(select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points))
                                          .group_by(LoyaltyEntry.customer_id)).all()),
            "ledger_entries": s.scalar(select(func.count()).select_from(LoyaltyEntry)),
            "tiers": {r[0]: tuple(r[1:]) for r in s.execute(select(
                LoyaltyAccount.customer_id, LoyaltyAccount.tier, LoyaltyAccount.tier_since,
                LoyaltyAccount.tier_until))},
            "profiles": {r[0]: tuple(r[1:]) for r in s.execute(select(
                CrmProfile.customer_id, CrmProfile.r_score, CrmProfile.f_score, CrmProfile.m_score,
                CrmProfile.p_alive, CrmProfile.clv_12m, CrmProfile.value_score,
                CrmProfile.profiling_objection, CrmProfile.next_refill_due))},
            "care_tasks": s.scalar(select(func.count()).select_from(CareTask)),
            "tickets": s.scalar(select(func.count()).select_from(Complaint)),
        }
    p.dispose()
    return out


def bench_compare(args: argparse.Namespace) -> dict[str, Any]:
    """Two refreshed SQLite work directories (``--reuse`` of two runs): equal or not, per part."""
    a, b = _crm_state(Path(args.a)), _crm_state(Path(args.b))
    out: dict[str, Any] = {}
    for k in a:
        same = a[k] == b[k]
        out[k] = {"same": same, "size": len(a[k]) if hasattr(a[k], "__len__") else a[k]}
        if not same and k == "traits":
            out[k]["different_customers"] = sum(a[k][c] != b[k].get(c) for c in a[k])
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")],
                   default=[100_000, 1_000_000])
    c = sub.add_parser("cdnow")
    c.add_argument("--database-url", default=None)
    c.add_argument("--sample", default=None, help="CDNOW_sample.txt (default: from lifetimes)")
    r = sub.add_parser("refresh")
    r.add_argument("--people", type=int, default=80_000)
    r.add_argument("--seed", type=int, default=16)
    r.add_argument("--database-url", default=None)
    r.add_argument("--reuse", default=None, help="work directory of an earlier run (skips ingest)")
    r.add_argument("--runs", type=int, default=2)
    r.add_argument("--as-of", default=None)
    cmp = sub.add_parser("compare", help="compare two refreshed work directories")
    cmp.add_argument("a")
    cmp.add_argument("b")
    args = ap.parse_args()
    {"fit": bench_fit, "cdnow": bench_cdnow, "refresh": bench_refresh,
     "compare": bench_compare}[args.cmd](args)


if __name__ == "__main__":
    main()
