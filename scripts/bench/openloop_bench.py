#!/usr/bin/env python
"""Open-loop read latency: customer reads offered at a constant arrival rate against gunicorn
with the production settings (gunicorn.conf.py, rate limits in Redis, PostgreSQL).

    # a database of generated customers (scripts/bench/ingest_scale.py --keep prints these):
    python -m scripts.bench.openloop_bench \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/cdp_bench_scale_20000 \
        --keyring var/bench/cdp_bench_scale_20000_keyring.json --rates 50,100,200,300 --seconds 20

Why open loop: a closed loop (N clients, each waiting for its answer) slows its own offered
load when the service stalls, so a stall shows as a few slow requests instead of the queue
it really causes. Here request i is due at ``t0 + i / rate`` whatever happened before, and
its latency is counted **from that scheduled time**: a stall of 1 s at 300/s shows as 300
late requests, as a call centre would feel it.

For each rate, two phases of ``--seconds`` each, on the same customers in the same order:
  bare  GET /bench/bare/<id>: the same rows, same SQL and transaction as the unified view, no
        key check, policy, decryption, rendering or audit (scripts/bench/read_api_bench.py)
  full  GET /v1/customers/<id> as customer_service / customer_support: the whole read path,
        audit entry and commit included
Reported per phase: achieved rate, p50 / p99 / p99.9 / max (ms, from the scheduled time),
non-200 answers, the generator's own lateness (p99 of send time - scheduled time: a late
send is the generator's fault, still counted in the latency), CPU per request of the
gunicorn workers, of PostgreSQL's backends and of the generator itself (Linux /proc). Then
the highest rate with p99 < 100 ms for each kind and their ratio (goal: full >= 0.6 x bare).

``--probe`` looks for the tail's causes: each gunicorn worker logs its garbage collections
(generation, pause) and a sampler thread reads pg_stat_activity every 10 ms during each
phase (what the active backends wait on: locks, WAL, I/O, client); checkpoints and WAL
figures (pg_stat_bgwriter, pg_stat_wal) are read before and after each phase.

The generator is this process: ``--senders`` threads with one keep-alive connection each
take the next due request. It shares the machine's cores with the service. Bounded: every
phase stops at its end (in-flight requests get 10 s); a rate whose p99 passes 2 s for both
kinds ends the sweep.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
import timeit
from pathlib import Path
from typing import Any

from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]
PORT = 5089


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def cpu_ticks(server_pid: int, database: str) -> dict[str, int]:
    from scripts.bench.read_api_bench import _cpu_ticks

    return _cpu_ticks(server_pid, database)


def wait_up(port: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the service did not come up")


class Probe:
    """pg_stat_activity sampled every 10 ms in a thread, for one phase at a time."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.conn = psycopg.connect(dsn, autocommit=True)
        self.samples: dict[str, int] = {}
        self.n = 0
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def stats(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint, buffers_backend, "
            "(SELECT wal_buffers_full FROM pg_stat_wal), (SELECT wal_sync FROM pg_stat_wal) "
            "FROM pg_stat_bgwriter").fetchone()
        keys = ("checkpoints", "buffers_checkpoint", "buffers_backend", "wal_buffers_full", "wal_sync")
        return dict(zip(keys, (int(x or 0) for x in row or ()), strict=False))

    def _run(self) -> None:
        q = ("SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), left(query, 30) "
             "FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
             "AND pid <> pg_backend_pid()")
        while not self.stop.wait(0.01):
            self.n += 1
            for wait, query in self.conn.execute(q).fetchall():
                key = f"{wait} | {query}"
                self.samples[key] = self.samples.get(key, 0) + 1

    def start(self) -> None:
        self.samples, self.n = {}, 0
        self.stop.clear()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def finish(self) -> dict[str, Any]:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        top = sorted(self.samples.items(), key=lambda kv: -kv[1])[:8]
        return {"samples": self.n, "active_backends_top": top}


def gc_report(prefix: str) -> list[str]:
    lines = []
    for f in sorted(Path(prefix).parent.glob(Path(prefix).name + ".*.json")):
        pauses = json.loads(f.read_text())
        by_gen = {g: [p for gg, p, _ in pauses if gg == g] for g in (0, 1, 2)}
        lines.append(
            f"worker {f.stem.rsplit('.', 1)[1]}: " + ", ".join(
                f"gen{g} {len(v)} collections, max {max(v, default=0):.1f} ms, "
                f"total {sum(v):.0f} ms" for g, v in by_gen.items())
            + f"; pauses > 10 ms: {sum(1 for _, p, _ in pauses if p > 10)}")
    return lines


def run_phase(port: int, paths: list[str], headers: dict[str, str], rate: float,
              seconds: float, senders: int) -> dict[str, Any]:
    """Offer ``rate`` requests/s for ``seconds``; latency from each request's due time."""
    total = int(rate * seconds)
    due = itertools.count()
    lat: list[float] = []
    lag: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    t0 = time.perf_counter() + 0.2
    stop_at = t0 + seconds + 10

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        my_lat, my_lag, my_err = [], [], []
        while True:
            i = next(due)
            if i >= total:
                break
            at = t0 + i / rate
            now = time.perf_counter()
            if now > stop_at:
                my_err.append(-1)
                continue
            if at > now:
                time.sleep(at - now)
            sent = time.perf_counter()
            try:
                conn.request("GET", paths[i % len(paths)], headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            done = time.perf_counter()
            my_lag.append(sent - at)
            my_lat.append(done - at)
            if status != 200:
                my_err.append(status)
        conn.close()
        with lock:
            lat.extend(my_lat)
            lag.extend(my_lag)
            errors.extend(my_err)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    cpu0 = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 20)
    wall = time.perf_counter() - t0
    gen_cpu = time.process_time() - cpu0
    ms = [x * 1000 for x in lat]
    return {
        "offered": rate, "requests": len(lat), "achieved": round(len(lat) / wall, 1),
        "p50": round(pct(ms, 50), 1), "p99": round(pct(ms, 99), 1),
        "p999": round(pct(ms, 99.9), 1), "max": round(max(ms, default=float("nan")), 1),
        "errors": len(errors), "error_codes": sorted(set(errors))[:5],
        "send_lag_p99": round(pct([x * 1000 for x in lag], 99), 1),
        "gen_cpu_ms_per_req": round(gen_cpu * 1000 / max(len(lat), 1), 3),
        "gen_cpu_pct_core": round(100 * gen_cpu / wall, 1),
    }


def start_service(database_url: str, keyring: str, port: int, ratelimit_storage: str,
                  workers: int | None = None, threads: int | None = None,
                  extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """gunicorn with the production settings (gunicorn.conf.py) serving the service plus the
    bench-only bare endpoint (scripts/bench/read_api_bench.py), in its own session."""
    env = dict(os.environ, CDP_DATABASE_URL=database_url, CDP_KEYRING=keyring,
               CDP_POLICY_DIR=str(ROOT / "policies"), CDP_RATELIMIT="10000000/minute",
               # One key reads every customer here; a call centre has a key per agent (or
               # raises the per-key customer-data limit, 600/minute by default).
               CDP_RATELIMIT_CUSTOMER_DATA="10000000/minute",
               CDP_RATELIMIT_STORAGE=ratelimit_storage, CDP_BIND=f"127.0.0.1:{port}",
               **(extra_env or {}))
    if workers:
        env["CDP_WORKERS"] = str(workers)
    if threads:
        env["CDP_THREADS"] = str(threads)
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", str(ROOT / "gunicorn.conf.py"),
         "--log-level", "warning", "scripts.bench.read_api_bench:bench_app()"],
        cwd=ROOT, env=env, start_new_session=True,
    )
    return server, env


def stop_service(server: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Stop gunicorn (its graceful stop first, then a kill after ``timeout`` seconds)."""
    server.terminate()
    try:
        server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--keyring", required=True)
    ap.add_argument("--rates", default="50,100,200,300")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=5, help="seconds at the first rate first")
    ap.add_argument("--workers", type=int, default=None, help="default: gunicorn.conf.py's")
    ap.add_argument("--threads", type=int, default=None, help="default: gunicorn.conf.py's")
    ap.add_argument("--senders", type=int, default=48)
    ap.add_argument("--port", type=int, default=PORT)
    ap.add_argument("--ratelimit-storage", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--json", dest="json_out", default=None)
    ap.add_argument("--probe", action="store_true", help="GC pauses, PostgreSQL waits (see above)")
    args = ap.parse_args()

    machine_ms = min(timeit.repeat("sum(range(10**7))", number=1, repeat=3)) * 1000
    from cdp.access.apikeys import create_key
    from cdp.config import Config
    from cdp.identity.models import Customer
    from cdp.platform import Platform

    platform = Platform(Config(database_url=args.database_url, keyring_path=args.keyring,
                               policy_dir=str(ROOT / "policies")))
    with platform.transaction() as s:
        ids = list(s.scalars(select(Customer.id).where(Customer.status == "active")))
        _, key = create_key(s, "customer_service", "openloop-bench")
    platform.dispose()
    random.seed(3)
    order = random.sample(ids, min(len(ids), 20_000))
    gc_prefix = str(ROOT / "var" / "bench" / f"openloop_gc_{os.getpid()}")
    probe = None
    extra = {}
    if args.probe:
        extra["CDP_BENCH_GC_LOG"] = gc_prefix
        probe = Probe(args.database_url.replace("postgresql+psycopg://", "postgresql://"))
    server, env = start_service(args.database_url, args.keyring, args.port, args.ratelimit_storage,
                                args.workers, args.threads, extra)
    dbname = args.database_url.rsplit("/", 1)[1]
    results: list[dict[str, Any]] = []
    try:
        wait_up(args.port)
        print(f"{len(ids):,} active customers; gunicorn {env.get('CDP_WORKERS', os.cpu_count())} "
              f"workers x {env.get('CDP_THREADS', 4)} threads; {args.senders} sender threads in "
              f"the generator; {os.cpu_count()} CPUs shared; machine: sum(range(10**7)) "
              f"{machine_ms:.0f} ms; load average {os.getloadavg()[0]:.1f}", flush=True)
        full_headers = {"Authorization": f"Bearer {key}", "X-Purpose-Of-Use": "customer_support"}
        kinds = {
            "bare": ([f"/bench/bare/{c}" for c in order], {}),
            "full": ([f"/v1/customers/{c}" for c in order], full_headers),
        }
        rates = [float(r) for r in args.rates.split(",")]
        # Warm-up: caches, connection pools, the workers' first requests.
        for paths, headers in kinds.values():
            run_phase(args.port, paths, headers, rates[0], args.warmup / 2, args.senders)
        for rate in rates:
            worst = []
            for kind, (paths, headers) in kinds.items():
                c0 = cpu_ticks(server.pid, dbname)
                if probe is not None:
                    before = probe.stats()
                    probe.start()
                r = run_phase(args.port, paths, headers, rate, args.seconds, args.senders)
                c1 = cpu_ticks(server.pid, dbname)
                if probe is not None:
                    r["probe"] = probe.finish()
                    after = probe.stats()
                    r["probe"]["delta"] = {k: after[k] - before[k] for k in after}
                tick = os.sysconf("SC_CLK_TCK")
                n = max(r["requests"], 1)
                r["service_cpu_ms_per_req"] = round((c1["service"] - c0["service"]) * 1000 / tick / n, 2)
                r["postgres_cpu_ms_per_req"] = round((c1["postgres"] - c0["postgres"]) * 1000 / tick / n, 2)
                r["kind"] = kind
                r["load"] = round(os.getloadavg()[0], 1)
                results.append(r)
                worst.append(r["p99"])
                print(f"{kind:4} {rate:6.0f}/s offered, {r['achieved']:6.1f}/s done: p50 {r['p50']:7.1f} "
                      f"p99 {r['p99']:7.1f} p99.9 {r['p999']:7.1f} max {r['max']:7.1f} ms; errors "
                      f"{r['errors']} {r['error_codes']}; generator late p99 {r['send_lag_p99']:.1f} ms, "
                      f"CPU {r['gen_cpu_ms_per_req']:.2f} ms/req ({r['gen_cpu_pct_core']:.0f}% of a core); "
                      f"gunicorn {r['service_cpu_ms_per_req']:.2f} ms/req, PostgreSQL "
                      f"{r['postgres_cpu_ms_per_req']:.2f} ms/req; load {r['load']}", flush=True)
                if probe is not None:
                    pr = r["probe"]
                    print(f"     probe: {pr['delta']}; active backends in {pr['samples']} samples: "
                          + "; ".join(f"{k} x{v}" for k, v in pr["active_backends_top"]), flush=True)
            if min(worst) > 2000:
                print("p99 over 2 s for both kinds: sweep ended", flush=True)
                break
    finally:
        stop_service(server)
    if probe is not None:
        for line in gc_report(gc_prefix):
            print("gc " + line, flush=True)
    best = {}
    for kind in ("bare", "full"):
        ok = [r["offered"] for r in results if r["kind"] == kind and r["p99"] < 100 and r["errors"] == 0]
        best[kind] = max(ok, default=0.0)
    ratio = best["full"] / best["bare"] if best["bare"] else float("nan")
    print(f"highest rate with p99 < 100 ms and no error (of the rates tried): bare {best['bare']:.0f}/s, "
          f"full {best['full']:.0f}/s, full/bare {ratio:.2f} (goal >= 0.6)", flush=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"machine_ms": round(machine_ms), "runs": results,
                                                   "best": best}, indent=1))


if __name__ == "__main__":
    main()
