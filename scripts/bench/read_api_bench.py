#!/usr/bin/env python
"""`GET /v1/customers/{id}` under load, against a bare endpoint reading the same rows.

    # data: customers ingested through the real pipeline (cdp init; cdp ingest FILE), see
    # BENCHMARKS.md; load generator: apt-get install wrk
    python -m scripts.bench.read_api_bench \
        --database-url postgresql+psycopg://postgres@127.0.0.1/cdp_bench_read100k \
        --keyring var/h4/keyring.json --clients 16 --seconds 15 --warmup 12 [--rounds 2]

The service runs under gunicorn with its own settings (gunicorn.conf.py; ``--workers``
processes x ``--threads`` threads, gthread, 2 x 4 by default as that file gives on 2 cores),
rate limits in Redis as in production. The load comes from a second process: ``wrk``
(Debian package ``wrk``; ``--client wrk``, the default when it is installed) with
``--clients`` keep-alive connections, each request for a random customer (a Lua script picks
the id), per-request latency in wrk's histogram (p50 / p99). ``--client python`` is the
fallback: a child Python process with one thread and keep-alive connection per client; it
spends far more CPU per request, which the service then does not get (2 shared cores).

  bare   GET /bench/bare/<id>: the same rows (customer, records with their data keys,
         identifiers, interactions, consents, links) read with the same SQL statements as the
         unified view, in the same request transaction, returned as sizes: no API key
         check, policy, decryption, rendering or audit.
  full   GET /v1/customers/<id> for each --as ROLE:PURPOSE: API key check, casbin,
         decrypt, render (masking; for pharmacy_care the re-redaction of free text), audit
         row in the same transaction, commit.

Per run it prints req/s, p50 / p99, non-200 responses, the load average, and the CPU time
per request of the gunicorn workers, of the PostgreSQL backends serving the database and of
the load generator (Linux /proc), so the figures can be read on a shared machine. Also prints
the policy decision cost (casbin alone, memoised) and the render cost.

``--paced 0.5`` (extra, wrk only): after each full run the same requests again with a think
time per client (wrk's ``delay()``) chosen so the 16 clients offer about half the rate the
closed loop just reached: the latency of the service below saturation, without the queueing
a closed loop at full speed measures. Reported apart; the closed-loop figures are the goal's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from flask import jsonify
from sqlalchemy import select

PORT = 5077
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bare_reader() -> Any:
    """reader(connection, customer_id) -> rows, with the SQL the unified view reads one
    customer with: the view's own statements (cdp/identity/view.py: customers joined with
    records, data keys and identifiers; then interactions, consents and links in one
    UNION ALL; their one-customer forms where the view has them), or, for a tree older
    than those (a before/after run), the four statements the view then ran."""
    from cdp.identity import view

    if hasattr(view, "_CUSTOMER_ONE") and hasattr(view, "_REST_ONE"):
        # The statements the view runs for a single customer (no expanding IN lists), run
        # as the view runs them: on the driver's cursor where the view does (DriverStatement).
        def run(conn: Any, stmt: Any, params: dict[str, Any]) -> list[Any]:
            if hasattr(stmt, "rows"):
                return stmt.rows(conn, params)
            return conn.execute(stmt, params).all()

        def read_one(conn: Any, cid: str) -> tuple[list[Any], list[Any]]:
            shell = {f"shell{i}": ("erased", "merged")[min(i, 1)] for i in range(view._SHELL_SLOTS)}
            rows = run(conn, view._CUSTOMER_ONE, {"id": cid, **shell})
            rest = run(conn, view._REST_ONE, {"id": cid}) if rows else []
            return rows, rest

        return read_one

    if hasattr(view, "_CUSTOMERS") and hasattr(view, "_REST"):

        def read(conn: Any, cid: str) -> tuple[list[Any], list[Any]]:
            shell = ["erased", "merged"]
            rows = conn.execute(view._CUSTOMERS, {"ids": [cid], "shell": shell}).all()
            rest = conn.execute(view._REST, {"ids": [cid]}).all() if rows else []
            return rows, rest

        return read

    from sqlalchemy import and_, bindparam

    from cdp.crypto.models import DataKey
    from cdp.identity.models import (
        Consent,
        Customer,
        Identifier,
        IdentityLink,
        Interaction,
        SourceRecord,
    )

    c, r, k, i = (m.__table__.c for m in (Customer, SourceRecord, DataKey, Identifier))
    it, cs, lk = (m.__table__.c for m in (Interaction, Consent, IdentityLink))
    cid_ = bindparam("cid")
    customers = (
        select(
            c.id.label("c_id"),
            c.status.label("c_status"),
            r.id.label("r_id"),
            r.profile_ct,
            r.orders_ct,
            r.extra_ct,
            k.wrapped,
            i.id.label("i_id"),
            i.type.label("i_type"),
            i.value_ct.label("i_value_ct"),
        )
        .select_from(Customer.__table__)
        .outerjoin(
            SourceRecord.__table__,
            and_(r.customer_id == c.id, c.status.not_in(["merged", "erased"])),
        )
        .outerjoin(DataKey.__table__, k.id == r.data_key_id)
        .outerjoin(Identifier.__table__, and_(i.record_id == r.id, i.customer_id == r.customer_id))
        .where(c.id == cid_)
        .order_by(c.id, r.observed_at, r.source, r.source_record_id, i.id)
    )
    others = (
        select(it.id, it.text_ct, it.text_redacted_ct, it.entity_types)
        .where(it.customer_id == cid_)
        .order_by(it.at, it.id),
        select(cs.purpose, cs.granted).where(cs.customer_id == cid_).order_by(cs.at, cs.id),
        select(lk.rule, lk.evidence)
        .where(lk.customer_id == cid_, lk.ended_at.is_(None))
        .order_by(lk.id),
    )

    def read_old(conn: Any, cid: str) -> tuple[list[Any], list[Any]]:
        rows = conn.execute(customers, {"cid": cid}).all()
        rest = [x for q in others for x in conn.execute(q, {"cid": cid}).all()] if rows else []
        return rows, rest

    return read_old


def _log_gc_pauses(prefix: str) -> None:
    """Record every cyclic collection's pause (generation, ms, time) of this worker and write
    them to ``<prefix>.<pid>.json`` when it exits (openloop_bench.py --probe)."""
    import atexit
    import gc

    pauses: list[tuple[int, float, float]] = []
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], (time.perf_counter() - started[0]) * 1000,
                           time.time()))

    gc.callbacks.append(callback)
    def write() -> None:
        with open(f"{prefix}.{os.getpid()}.json", "w") as fh:
            json.dump(pauses, fh)

    atexit.register(write)


def bench_app():  # type: ignore[no-untyped-def]
    """The service plus the bare endpoint (only in this benchmark)."""
    from cdp.app import create_app
    from cdp.http import db_session

    app = create_app()
    read = _bare_reader()
    # As wsgi.py does for the service: what was loaded at start is frozen out of the cyclic
    # collector's full collections, young collections made rarer (a tree older than that
    # helper: the freeze alone, as its wsgi.py did).
    try:
        from cdp.http.serving import prepare_gc_for_serving
    except ImportError:
        import gc

        gc.collect()
        gc.freeze()
    else:
        prepare_gc_for_serving()
    if os.environ.get("CDP_BENCH_GC_LOG"):
        _log_gc_pauses(os.environ["CDP_BENCH_GC_LOG"])

    @app.get("/bench/bare/<customer_id>")
    def bare(customer_id: str):  # type: ignore[no-untyped-def]
        # The same rows as GET /v1/customers/<id>, read with the same statements in the
        # same request transaction (committed after the view), returned as sizes: no API
        # key check, policy, decryption, rendering or audit.
        rows, rest = read(db_session().connection(), customer_id)
        if not rows:
            return jsonify({"error": "not found"}), 404
        records = {x.r_id: x for x in rows if x.r_id is not None}
        return jsonify(
            {
                "customer_id": rows[0].c_id,
                "status": rows[0].c_status,
                "records": [
                    {
                        "id": rid,
                        "bytes": sum(
                            len(b or b"") for b in (x.profile_ct, x.orders_ct, x.extra_ct)
                        ),
                    }
                    for rid, x in records.items()
                ],
                "identifiers": [
                    {"type": x.i_type, "bytes": len(x.i_value_ct)}
                    for x in rows
                    if x.i_id is not None
                ],
                "others": len(rest),
            }
        )

    return app


# A closed-loop client per connection: each sends its next request when the previous answer
# has been read, so at most --clients requests are in flight (latency = queueing + service).
_WRK_LUA = """
local ids = {}
local prefix = os.getenv("BENCH_PATH")
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local n = 0
function setup(thread)
  n = n + 1
  thread:set("tid", n)
end
function init(args)
  math.randomseed(tonumber(os.getenv("BENCH_SEED")) * 1000 + (tid or 0))
end
function request()
  return wrk.format("GET", prefix .. ids[math.random(#ids)])
end
-- Think time (--paced): each client waits this long after an answer before its next request.
local think = tonumber(os.getenv("BENCH_THINK_MS") or "0")
if think > 0 then
  function delay()
    return think
  end
end
function done(summary, latency, requests)
  io.write(string.format(
    "BENCH_JSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"non2xx\\": %d, \\"socket_errors\\": %d, "
    .. "\\"p50_us\\": %d, \\"p90_us\\": %d, \\"p99_us\\": %d, \\"mean_us\\": %f, \\"max_us\\": %d}\\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


def _python_client(argv: list[str]) -> None:
    """The fallback load generator, run as a child process: ``--client python``."""
    port, path, clients, seconds = int(argv[0]), argv[1], int(argv[2]), float(argv[3])
    headers = json.loads(argv[4])
    with open(argv[5]) as f:
        ids = f.read().split()
    rng = random.Random(int(argv[6]))
    stop = time.perf_counter() + seconds
    lat: list[float] = []
    errors: dict[int, int] = {}
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], {}
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            conn.request("GET", path + rng.choice(ids), headers=headers)
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - t0)
            if resp.status != 200:
                bad[resp.status] = bad.get(resp.status, 0) + 1
        conn.close()
        with lock:
            lat.extend(mine)
            for k, v in bad.items():
                errors[k] = errors.get(k, 0) + v

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    pct = (lambda q: lat[min(int(len(lat) * q), len(lat) - 1)] * 1e6) if lat else (lambda q: 0)
    out = {
        "requests": len(lat),
        "duration_us": int(wall * 1e6),
        "non2xx": sum(errors.values()),
        "socket_errors": 0,
        "p50_us": pct(0.5),
        "p90_us": pct(0.9),
        "p99_us": pct(0.99),
        "mean_us": statistics.fmean(lat) * 1e6 if lat else 0,
        "max_us": lat[-1] * 1e6 if lat else 0,
    }
    print("BENCH_JSON " + json.dumps(out), flush=True)


def _cpu_ticks(server_pid: int, database: str) -> dict[str, int]:
    """CPU ticks (user + system) so far of the gunicorn workers and of the PostgreSQL
    backends serving ``database`` (Linux /proc; empty elsewhere)."""
    out = {"service": 0, "postgres": 0}
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return out
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks = int(fields[11]) + int(fields[12])
            if int(fields[1]) == server_pid:
                out["service"] += ticks
            elif stat[stat.index("(") + 1 : stat.rindex(")")] == "postgres":
                with open(f"/proc/{pid}/cmdline") as f:
                    if f" {database} " in f.read().replace("\0", " "):
                        out["postgres"] += ticks
        except (OSError, ValueError, IndexError):
            continue
    return out


def load(
    client: str,
    path: str,
    headers: dict[str, str],
    clients: int,
    seconds: float,
    port: int,
    ids_file: str,
    seed: int,
    think_ms: int = 0,
) -> dict[str, Any]:
    """Run the load generator in a second process; its figures and its CPU time.

    ``think_ms`` (wrk only): each client waits that long after an answer before sending its
    next request, so the clients offer less than the service can take (see --paced)."""
    import resource

    if client == "wrk":
        lua = os.path.join(os.path.dirname(ids_file), "read_api_bench.lua")
        with open(lua, "w") as f:
            f.write(_WRK_LUA)
        cmd = [
            "wrk",
            "-t",
            str(min(2, clients)),
            "-c",
            str(clients),
            "-d",
            f"{seconds:g}s",
            "--timeout",
            "30s",
            "-s",
            lua,
        ]
        for k, v in headers.items():
            cmd += ["-H", f"{k}: {v}"]
        cmd.append(f"http://127.0.0.1:{port}")
    else:
        cmd = [
            sys.executable,
            "-m",
            "scripts.bench.read_api_bench",
            "--python-client",
            str(port),
            path,
            str(clients),
            str(seconds),
            json.dumps(headers),
            ids_file,
            str(seed),
        ]
    env = dict(
        os.environ,
        BENCH_IDS=ids_file,
        BENCH_PATH=path,
        BENCH_SEED=str(seed),
        BENCH_THINK_MS=str(think_ms),
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load1 = os.getloadavg()[0]
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"load generator failed ({proc.returncode}): {proc.stderr[-2000:]}")
    r = json.loads(line.split(" ", 1)[1])
    wall = r["duration_us"] / 1e6
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "requests": r["requests"],
        "rps": r["requests"] / wall if wall else 0.0,
        "p50_ms": r["p50_us"] / 1e3,
        "p90_ms": r["p90_us"] / 1e3,
        "p99_ms": r["p99_us"] / 1e3,
        "mean_ms": r["mean_us"] / 1e3,
        "max_ms": r["max_us"] / 1e3,
        "non200": r["non2xx"] + r["socket_errors"],
        "client_cpu_us_per_req": cpu / r["requests"] * 1e6 if r["requests"] else 0.0,
        "load1": load1,
    }


def wait_up(port: int, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not come up")


def machine_speed(n: int = 20_000) -> dict[str, float]:
    """Two figures to compare machines by, since VMs of one kind differ a lot (the same bare
    read has cost 0.85 ms of gunicorn CPU on one and 2.2 ms on another): a pure-Python loop
    (``sum(range(10**7))``, best of 3) and a loopback round trip between two processes (one
    byte each way over a socket pair, as every SQL statement and Redis call makes)."""
    import socket
    import timeit

    loop = min(timeit.repeat("sum(range(10**7))", number=1, repeat=3))
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the echoing process
        try:
            a.close()
            for _ in range(n):
                b.sendall(b.recv(1))
        finally:
            os._exit(0)
    b.close()
    t0 = time.perf_counter()
    for _ in range(n):
        a.sendall(b"x")
        a.recv(1)
    rtt = (time.perf_counter() - t0) / n
    os.waitpid(pid, 0)
    a.close()
    return {"python_loop_ms": loop * 1e3, "process_round_trip_us": rtt * 1e6}


def decision_and_render_cost(platform: Any, ids: list[str]) -> None:
    from cdp.access.policy import decision_cost, load_policy_set
    from cdp.access.render import render
    from cdp.identity.view import assemble_customer

    policy = load_policy_set(platform.policies)
    raw = decision_cost(policy, 5000, memo=False)
    memo = decision_cost(policy, 50000, memo=True)
    print(
        f"policy decision: casbin enforce {raw * 1e6:.1f} us; memoised per policy version {memo * 1e6:.2f} us"
    )
    with platform.transaction() as s:
        views = [assemble_customer(s, platform, cid) for cid in ids[:200]]
    for role, purpose in (
        ("pharmacist", "pharmacy_care"),
        ("customer_service", "customer_support"),
        ("analyst", "analytics"),
    ):
        t0 = time.perf_counter()
        for v in views:
            render(v, role, purpose, policy=policy)
        dt = (time.perf_counter() - t0) / len(views)
        print(f"render per customer ({role}/{purpose}): {dt * 1e3:.2f} ms")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--python-client":
        _python_client(sys.argv[2:])
        return
    import shutil

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1/cdp_bench_read100k"
    )
    ap.add_argument("--keyring", default="var/bench/read_keyring.json")
    # One worker process per core (2 vCPUs): more processes thrash with PostgreSQL and the
    # load generator on the same cores.
    # The service's own layout (gunicorn.conf.py) on this 2-core machine: 2 workers x 4 threads.
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=5, help="seconds of load before each run")
    ap.add_argument("--rounds", type=int, default=1, help="repeat bare/full alternately")
    ap.add_argument(
        "--client",
        choices=("wrk", "python"),
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator (second process): wrk (apt-get install wrk) or a Python client",
    )
    ap.add_argument("--port", type=int, default=PORT)
    ap.add_argument("--ratelimit-storage", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--skip-costs", action="store_true", help="skip the in-process cost lines")
    ap.add_argument(
        "--paced",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="extra (wrk only): after each full run, run it again with a think time per client "
        "chosen so the clients offer about FRACTION (e.g. 0.5) of the rate just measured; "
        "reported apart, the closed-loop figures stay the primary ones",
    )
    ap.add_argument(
        "--as",
        dest="as_",
        action="append",
        default=None,
        help="ROLE:PURPOSE for the full run (repeatable); default customer_service:customer_support "
        "and pharmacist:pharmacy_care (free text re-redacted for the pharmacist)",
    )
    args = ap.parse_args()

    # Before anything opens a connection (it forks).
    speed = machine_speed()
    from cdp.access.apikeys import create_key
    from cdp.config import Config
    from cdp.identity.models import Customer
    from cdp.platform import Platform

    cfg = Config(database_url=args.database_url, keyring_path=args.keyring, policy_dir="policies")
    platform = Platform(cfg)
    # The database is reused across runs (ingesting it takes long): refuse one whose schema is
    # older than the code instead of serving 500s (e.g. tables added to a migration since).
    from sqlalchemy import inspect

    import cdp.models  # noqa: F401  (every model on Base.metadata)
    from cdp.db import Base

    missing = sorted(set(Base.metadata.tables) - set(inspect(platform.engine).get_table_names()))
    if missing:
        raise SystemExit(
            f"{args.database_url.rsplit('/', 1)[-1]} lacks tables {', '.join(missing)}: its schema "
            "is older than the code; see BENCHMARKS.md (copy the identity tables into a fresh "
            "database migrated by upgrade_schema)"
        )
    with platform.transaction() as s:
        ids = list(s.scalars(select(Customer.id).where(Customer.status == "active")))
        total = len(ids)
        callers = [
            tuple(a.split(":", 1))
            for a in (args.as_ or ["customer_service:customer_support", "pharmacist:pharmacy_care"])
        ]
        keys = {(role, purpose): create_key(s, role, "read-bench")[1] for role, purpose in callers}
    random.seed(1)
    workdir = os.path.join("var", "bench")
    os.makedirs(workdir, exist_ok=True)
    ids_file = os.path.abspath(os.path.join(workdir, f"read_api_ids_{os.getpid()}.txt"))
    with open(ids_file, "w") as f:
        f.write("\n".join(ids) + "\n")
    print(
        f"{total} active customers; {args.clients} clients ({args.client}, second process); "
        f"gunicorn {args.workers} workers x {args.threads} threads; {args.seconds:.0f} s per run; "
        f"{os.cpu_count()} CPUs shared by the load generator, gunicorn, PostgreSQL and Redis"
    )
    print(
        f"machine: sum(range(10**7)) {speed['python_loop_ms']:.0f} ms, process round trip on a "
        f"socket pair {speed['process_round_trip_us']:.1f} us"
    )
    if not args.skip_costs:
        decision_and_render_cost(platform, random.sample(ids, min(200, len(ids))))

    env = dict(
        os.environ,
        CDP_DATABASE_URL=args.database_url,
        CDP_KEYRING=args.keyring,
        CDP_POLICY_DIR="policies",
        CDP_RATELIMIT="10000000/minute",
        CDP_RATELIMIT_STORAGE=args.ratelimit_storage,
    )
    server = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "gunicorn"),
            # the service's settings (access log off, ...); layout and address as given here
            "-c",
            os.path.join(ROOT, "gunicorn.conf.py"),
            "-w",
            str(args.workers),
            "-k",
            "gthread",
            "--threads",
            str(args.threads),
            "-b",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
            "scripts.bench.read_api_bench:bench_app()",
        ],
        env=env,
        start_new_session=True,
    )
    try:
        wait_up(args.port)
        runs: dict[str, list[dict[str, Any]]] = {}
        paced: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        plan = [("bare", "/bench/bare/", {})] + [
            (
                f"full {role}/{purpose}",
                "/v1/customers/",
                {"Authorization": f"Bearer {key}", "X-Purpose-Of-Use": purpose},
            )
            for (role, purpose), key in keys.items()
        ]
        seed = 1
        hz = os.sysconf("SC_CLK_TCK")
        database = args.database_url.rsplit("/", 1)[-1].split("?", 1)[0]
        for rnd in range(args.rounds):
            for name, path, headers in plan:
                seed += 1
                if args.warmup > 0:
                    load(
                        args.client,
                        path,
                        headers,
                        args.clients,
                        args.warmup,
                        args.port,
                        ids_file,
                        seed,
                    )
                cpu0 = _cpu_ticks(server.pid, database)
                r = load(
                    args.client,
                    path,
                    headers,
                    args.clients,
                    args.seconds,
                    args.port,
                    ids_file,
                    seed + 1000,
                )
                cpu1 = _cpu_ticks(server.pid, database)
                for part in ("service", "postgres"):
                    r[f"{part}_cpu_ms_per_req"] = (
                        (cpu1[part] - cpu0[part]) / hz * 1e3 / r["requests"]
                        if r["requests"]
                        else 0.0
                    )
                runs.setdefault(name, []).append(r)
                print(
                    f"round {rnd + 1} {name:>38}: {r['requests']} requests, {r['rps']:.0f} req/s, "
                    f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, non-200 {r['non200']}; "
                    f"CPU per request: gunicorn {r['service_cpu_ms_per_req']:.2f} ms, PostgreSQL "
                    f"{r['postgres_cpu_ms_per_req']:.2f} ms, load generator "
                    f"{r['client_cpu_us_per_req'] / 1e3:.2f} ms; load average {r['load1']:.2f}",
                    flush=True,
                )
                if args.paced > 0 and args.client == "wrk" and name != "bare" and r["rps"]:
                    # Offered load ~ clients / (latency + think): aim at FRACTION of the rate
                    # the closed loop just reached.
                    think = round(
                        max(1.0, args.clients / (args.paced * r["rps"]) * 1e3 - r["mean_ms"])
                    )
                    p = load(
                        args.client,
                        path,
                        headers,
                        args.clients,
                        args.seconds,
                        args.port,
                        ids_file,
                        seed + 2000,
                        think_ms=think,
                    )
                    paced.setdefault(name, []).append((think, p))
                    print(
                        f"round {rnd + 1} {name + ' (paced extra)':>38}: think {think} ms per "
                        f"client, {p['rps']:.0f} req/s ({p['rps'] / r['rps']:.2f} of the closed "
                        f"loop's), p50 {p['p50_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms, "
                        f"non-200 {p['non200']}; load average {p['load1']:.2f}",
                        flush=True,
                    )
        for rnd in range(args.rounds):
            bare = runs["bare"][rnd]
            for name, rs in runs.items():
                if name != "bare":
                    r = rs[rnd]
                    print(
                        f"round {rnd + 1} {name}: full / bare throughput {r['rps'] / bare['rps']:.2f} "
                        f"(goal >= 0.33); p99 {r['p99_ms']:.1f} ms (goal < 50)"
                    )
            # For reading the p99 goal on this machine: the bare read's own p99 (no key check,
            # policy, decryption or audit). In a closed loop the mean latency is the number
            # of clients over the throughput, so a full read's latency can be no lower than
            # the bare read's unless it costs less.
            print(f"round {rnd + 1} bare: p99 {bare['p99_ms']:.1f} ms at {bare['rps']:.0f} req/s")
        print(
            json.dumps(
                {
                    "customers": total,
                    "client": args.client,
                    "machine": {k: round(v, 2) for k, v in speed.items()},
                    **{
                        k: [
                            {
                                kk: round(vv, 2) if isinstance(vv, float) else vv
                                for kk, vv in r.items()
                            }
                            for r in v
                        ]
                        for k, v in runs.items()
                    },
                    **{
                        f"{k} (paced extra)": [
                            {"think_ms": think, **{
                                kk: round(vv, 2) if isinstance(vv, float) else vv
                                for kk, vv in r.items()
                            }}
                            for think, r in v
                        ]
                        for k, v in paced.items()
                    },
                }
            )
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        platform.dispose()
        os.unlink(ids_file)


if __name__ == "__main__":
    main()
