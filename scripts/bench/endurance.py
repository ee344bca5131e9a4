#!/usr/bin/env python
"""Endurance: a mixed workload for ``--minutes`` against gunicorn + PostgreSQL + Redis, with
every process's memory sampled, p99 per window, and ``cdp audit verify`` at the end.

    # the issue's run:
    python -m scripts.bench.endurance --minutes 30 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/cdp_bench_scale_20000 \
        --keyring var/bench/cdp_bench_scale_20000_keyring.json \
        --records var/bench/scale_20000.jsonl
    # short, as run in the session that wrote it: --minutes 3 --window-seconds 60

The database should hold generated customers (scripts/bench/ingest_scale.py --keep); the
run adds to it (new records, audit entries, DSRs, checkpoints, export runs).

Workload (each at a constant rate, open loop, latency from the due time):
- reads     GET /v1/customers/<id> as customer_service (``--read-rate``/s)
- lookups   GET /v1/customers?identifier_type=phone|member_id&value=... (values from the file)
- ingest    POST /v1/records, ``--ingest-batch`` new records (file lines under new ids) every 5 s
- DSR       an access request created, verified and executed every 30 s (compliance officer)
- checkpoints  POST /v1/audit/checkpoints every 60 s, and the service's own scheduler
            (CDP_SCHEDULER=1, policies/audit.toml every 1 minute for this run)
- exports   ``cdp export run bi_weekly`` every ``--export-every`` seconds (a CLI process)
- CRM       ``cdp crm refresh`` every ``--crm-every`` seconds (a CLI process), the nightly job

Every 10 s: RSS of the gunicorn master and of each worker, of each PostgreSQL backend of this
database (and their sum), and Redis's ``used_memory_rss``. Reported: per window the reads'
count, p50 / p99 / max and every kind's errors; memory per process after the first window
(warm-up) against the end (goal: < 10% growth); p99 of the first and of the last window; the
verify summary. Bounded: the load stops at ``--minutes``, in-flight requests get 30 s.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import select

from scripts.bench.openloop_bench import stop_service
from scripts.bench.procstat import children, machine_figure_ms, pg_backends, rss_mb

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("read", "lookup", "ingest", "dsr", "checkpoint", "export", "crm")
PORT = 5091


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else float("nan")


class Recorder:
    """Latencies and errors per kind and window (thread-safe)."""

    def __init__(self, t0: float, window: float) -> None:
        self.t0, self.window = t0, window
        self.lat: dict[tuple[str, int], list[float]] = defaultdict(list)
        self.err: dict[tuple[str, int], int] = defaultdict(int)
        self.codes: dict[str, set[int | str]] = defaultdict(set)
        # reads' latency per 10-second slice, to say when a tail happened and what ran then
        self.slices: dict[int, list[float]] = defaultdict(list)
        self.runs: list[tuple[str, float, float]] = []  # (kind, start s, end s): CLI jobs
        self.lock = threading.Lock()

    def add(self, kind: str, due: float, done: float, ok: bool, code: int | str) -> None:
        w = int((due - self.t0) // self.window)
        with self.lock:
            self.lat[(kind, w)].append((done - due) * 1000)
            if kind == "read":
                self.slices[int((due - self.t0) // 10)].append((done - due) * 1000)
            elif kind in ("export", "crm"):
                self.runs.append((kind, due - self.t0, done - self.t0))
            if not ok:
                self.err[(kind, w)] += 1
                self.codes[kind].add(code)


def request(conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str],
            body: Any = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    hdrs = dict(headers, **({"Content-Type": "application/json"} if data else {}))
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    return resp.status, resp.read()


def paced(rec: Recorder, kind: str, rate: float, until: float, senders: int,
          work: Any) -> list[threading.Thread]:
    """Threads that call work(conn, i) at ``rate``/s until ``until`` (due-time latency)."""
    due = itertools.count()
    t0 = time.perf_counter() + 0.1

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        while True:
            i = next(due)
            at = t0 + i / rate
            if at >= until:
                break
            delay = at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if rate * senders < 1:
                # Idle longer than gunicorn's keep-alive (2 s): the server has closed the
                # connection; a request written to it would fail with a broken pipe.
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
            try:
                code, ok = work(conn, i)
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
                code, ok = type(exc).__name__, False
            rec.add(kind, at, time.perf_counter(), ok, code)
        conn.close()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(senders)]
    for t in threads:
        t.start()
    return threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--keyring", required=True)
    ap.add_argument("--records", required=True, help="the JSONL the database was built from")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--window-seconds", type=float, default=300)
    ap.add_argument("--read-rate", type=float, default=60)
    ap.add_argument("--lookup-rate", type=float, default=10)
    ap.add_argument("--ingest-batch", type=int, default=20)
    ap.add_argument("--export-every", type=float, default=300)
    ap.add_argument("--crm-every", type=float, default=600)
    ap.add_argument("--json", dest="json_out", default=None)
    args = ap.parse_args()

    machine_ms = machine_figure_ms()
    from cdp.access.apikeys import create_key
    from cdp.config import Config
    from cdp.identity.models import Customer
    from cdp.platform import Platform

    tmp = Path(tempfile.mkdtemp(prefix="cdp-endurance-"))
    policy_dir = tmp / "policies"
    shutil.copytree(ROOT / "policies", policy_dir)
    (policy_dir / "audit.toml").write_text("[checkpoints]\nevery_minutes = 1\n")
    platform = Platform(Config(database_url=args.database_url, keyring_path=args.keyring,
                               policy_dir=str(policy_dir)))
    with platform.transaction() as s:
        ids = list(s.scalars(select(Customer.id).where(Customer.status == "active")))
        keys = {role: create_key(s, role, "endurance")[1]
                for role in ("customer_service", "ingest_service", "compliance_officer")}
        # access requests need four eyes (policies/retention.toml): a second officer approves
        keys["approver"] = create_key(s, "compliance_officer", "endurance-approver")[1]
    platform.dispose()
    lines = Path(args.records).read_text(encoding="utf-8").splitlines()
    from cdp.crypto.keyring import Keyring
    from cdp.identity import normalize as nz
    from cdp.identity.identifiers import lookup_index
    from cdp.identity.rules import load_rules
    from cdp.policyfiles import PolicyFiles

    ring = Keyring.load(args.keyring)
    rules = load_rules(PolicyFiles(str(policy_dir)))
    lookups: list[tuple[str, str]] = []
    for line in lines[:5000]:
        for ident in json.loads(line).get("identifiers", []):
            # searchable values only: the API refuses (422) masked phones, placeholders and
            # the blocked values of policies/identity.toml, by design
            if ident["type"] not in ("member_id", "phone"):
                continue
            n = nz.normalize_identifier(ident["type"], ident["value"], "")
            if (n.status == nz.VALID and n.norm is not None
                    and not rules.is_blocked(ident["type"], n.norm)
                    and lookup_index(ring, ident["type"], ident["value"], None)):
                lookups.append((ident["type"], ident["value"]))
    random.seed(5)
    env = dict(os.environ, CDP_DATABASE_URL=args.database_url, CDP_KEYRING=args.keyring,
               CDP_POLICY_DIR=str(policy_dir), CDP_EXPORT_DIR=str(tmp / "exports"),
               # one key plays a whole call centre: lift its per-key budgets, as openloop does
               CDP_RATELIMIT="10000000/minute", CDP_RATELIMIT_CUSTOMER_DATA="10000000/minute",
               CDP_RATELIMIT_STORAGE="redis://127.0.0.1:6379/12", CDP_SCHEDULER="1",
               CDP_BIND=f"127.0.0.1:{PORT}")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", str(ROOT / "gunicorn.conf.py"),
         "--log-level", "warning"], cwd=ROOT, env=env, start_new_session=True,
    )
    dbname = args.database_url.rsplit("/", 1)[1]
    r = redis.Redis(host="127.0.0.1", port=6379)
    cdp = str(Path(sys.executable).with_name("cdp"))
    report: dict[str, Any] = {"machine_ms": round(machine_ms)}
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("service did not start") from None
                time.sleep(0.5)
        print(f"{len(ids):,} customers; {args.minutes} min; reads {args.read_rate}/s, lookups "
              f"{args.lookup_rate}/s, ingest {args.ingest_batch} records / 5 s, DSR / 30 s, "
              f"checkpoint / 60 s, export / {args.export_every:.0f} s, "
              f"crm refresh / {args.crm_every:.0f} s; machine: sum(range(10**7)) "
              f"{machine_ms:.0f} ms, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
        t0 = time.perf_counter()
        until = t0 + args.minutes * 60
        rec = Recorder(t0, args.window_seconds)
        cs = {"Authorization": f"Bearer {keys['customer_service']}", "X-Purpose-Of-Use": "customer_support"}
        ing = {"Authorization": f"Bearer {keys['ingest_service']}"}
        co = {"Authorization": f"Bearer {keys['compliance_officer']}",
              "X-Purpose-Of-Use": "data_subject_request"}
        co_audit = dict(co, **{"X-Purpose-Of-Use": "compliance_audit"})
        approver = dict(co, Authorization=f"Bearer {keys['approver']}")

        def read(conn: Any, i: int) -> tuple[int, bool]:
            code, _ = request(conn, "GET", f"/v1/customers/{random.choice(ids)}", cs)
            return code, code == 200

        def lookup(conn: Any, i: int) -> tuple[int, bool]:
            t, v = random.choice(lookups)
            q = urllib.parse.urlencode({"identifier_type": t, "value": v})
            code, _ = request(conn, "GET", f"/v1/customers?{q}", cs)
            return code, code == 200

        def ingest(conn: Any, i: int) -> tuple[int, bool]:
            batch = []
            for j in range(args.ingest_batch):
                obj = json.loads(random.choice(lines))
                obj["source_record_id"] = f"endurance-{os.getpid()}-{i}-{j}"
                batch.append(obj)
            code, _ = request(conn, "POST", "/v1/records", ing, batch)
            return code, code == 200

        def dsr(conn: Any, i: int) -> tuple[int, bool]:
            code, body = request(conn, "POST", "/v1/dsr", co,
                                 {"customer_id": random.choice(ids), "kind": "access"})
            if code != 201:
                return code, False
            did = json.loads(body)["id"]
            code, _ = request(conn, "POST", f"/v1/dsr/{did}/verify", co, {"method": "manual"})
            if code != 200:
                return code, False
            code, _ = request(conn, "POST", f"/v1/dsr/{did}/approve", approver, {})
            if code != 200:
                return code, False
            code, _ = request(conn, "POST", f"/v1/dsr/{did}/execute", co, {})
            return code, code == 200

        def checkpoint(conn: Any, i: int) -> tuple[int, bool]:
            code, _ = request(conn, "POST", "/v1/audit/checkpoints", co_audit, {})
            return code, code in (200, 201)

        threads = (
            paced(rec, "read", args.read_rate, until, 24, read)
            + paced(rec, "lookup", args.lookup_rate, until, 4, lookup)
            + paced(rec, "ingest", 1 / 5, until, 2, ingest)
            + paced(rec, "dsr", 1 / 30, until, 1, dsr)
            + paced(rec, "checkpoint", 1 / 60, until, 1, checkpoint)
        )

        def every(kind: str, period: float, command: list[str]) -> None:
            nxt = time.perf_counter() + period / 2
            while nxt < until:
                time.sleep(max(0.0, nxt - time.perf_counter()))
                out = subprocess.run([cdp, *command], env=env, cwd=ROOT,
                                     capture_output=True, text=True, check=False)
                rec.add(kind, nxt, time.perf_counter(), out.returncode == 0, out.returncode)
                nxt += period

        ex = threading.Thread(target=every, daemon=True,
                              args=("export", args.export_every, ["export", "run", "bi_weekly"]))
        ex.start()
        crm = threading.Thread(target=every, daemon=True,
                               args=("crm", args.crm_every, ["crm", "refresh"]))
        crm.start()
        samples: list[dict[str, Any]] = []
        while time.perf_counter() < until:
            workers = children(server.pid)
            backends = pg_backends(dbname)
            sample = {
                "t": round(time.perf_counter() - t0),
                "master": rss_mb(server.pid),
                **{f"worker{k}": rss_mb(p) for k, p in enumerate(sorted(workers))},
                "postgres_backends": len(backends),
                "postgres_sum": sum(rss_mb(p) for p in backends),
                "postgres_private_sum": sum(rss_mb(p, "RssAnon") for p in backends),
                "postgres_private_max": max((rss_mb(p, "RssAnon") for p in backends), default=0.0),
                "redis": int(r.info("memory")["used_memory_rss"]) / 2**20,  # type: ignore[index]
                "load": os.getloadavg()[0],
            }
            samples.append(sample)
            time.sleep(min(10.0, max(0.0, until - time.perf_counter())))
        for t in threads:
            t.join(timeout=30)
        ex.join(timeout=120)
        crm.join(timeout=300)

        windows = sorted({w for (_, w) in rec.lat})
        print("window  reads  p50 ms  p99 ms  max ms  errors (read lookup ingest dsr checkpoint export crm)")
        rows = []
        for w in windows:
            lat = rec.lat[("read", w)]
            errs = [rec.err[(k, w)] for k in KINDS]
            rows.append({"window": w, "reads": len(lat), "p50": pct(lat, 50), "p99": pct(lat, 99),
                         "max": max(lat, default=float("nan")), "errors": errs,
                         "lookup_p99": pct(rec.lat[("lookup", w)], 99),
                         "ingest_p99": pct(rec.lat[("ingest", w)], 99)})
            print(f"{w:6}  {len(lat):5}  {pct(lat, 50):6.1f}  {pct(lat, 99):6.1f}  "
                  f"{max(lat, default=float('nan')):6.1f}  {errs}", flush=True)
        # the slowest 10-second slices, beside what else was running and the machine's load
        slow = sorted(((pct(v, 99), k) for k, v in rec.slices.items()), reverse=True)[:8]
        print("slowest 10 s slices (read p99 ms): start s, p99, CLI jobs running, load average",
              flush=True)
        stalls = []
        for p99, k in sorted(slow, key=lambda x: x[1]):
            lo, hi = k * 10, k * 10 + 10
            jobs = [f"{kind} {a:.0f}-{b:.0f}" for kind, a, b in rec.runs if a < hi and b > lo]
            load = min(samples, key=lambda x: abs(x["t"] - lo))["load"] if samples else None
            stalls.append({"start": lo, "p99": p99, "jobs": jobs, "load": load})
            print(f"  {lo:6}  {p99:8.1f}  {', '.join(jobs) or '-'}  {load}", flush=True)
        report["stalls"] = stalls
        counts = {k: sum(len(v) for (kk, _), v in rec.lat.items() if kk == k)
                  for k in KINDS}
        errors = {k: sum(v for (kk, _), v in rec.err.items() if kk == k) for k in counts}
        print(f"done: {counts}; errors: {errors} {dict(rec.codes)}", flush=True)
        warm = next((s for s in samples if s["t"] >= args.window_seconds), samples[0])
        last = samples[-1]
        print("memory (RSS MB) after the first window -> end:", flush=True)
        growth = {}
        for k in last:
            if k in ("t", "load") or k not in warm:
                continue
            g = (last[k] - warm[k]) / warm[k] * 100 if warm[k] else 0.0
            growth[k] = round(g, 1)
            print(f"  {k:13} {warm[k]:7.1f} -> {last[k]:7.1f}  ({g:+.1f}%)", flush=True)
        report.update(windows=rows, counts=counts, errors=errors, growth_pct=growth,
                      samples=samples)
    finally:
        stop_service(server, timeout=30)
    started = time.perf_counter()
    out = subprocess.run([cdp, "audit", "verify"], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=False)
    print(f"`cdp audit verify`: exit {out.returncode} in {time.perf_counter() - started:.1f} s: "
          f"{out.stdout.strip()}", flush=True)
    report["verify"] = {"exit": out.returncode, "summary": out.stdout.strip()}
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
