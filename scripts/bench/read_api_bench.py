#!/usr/bin/env python
"""`GET /v1/customers/{id}` under load, against a bare endpoint reading the same rows.

    # data: customers ingested through the real pipeline (cdp init; cdp ingest FILE)
    python -m scripts.bench.read_api_bench --database-url postgresql+psycopg://postgres@127.0.0.1/cdp_bench_read_p2 \
        --keyring var/bench/read_keyring.json --clients 16 --seconds 20

The service runs under gunicorn (``--workers`` processes x ``--threads`` threads, gthread),
rate limits in Redis as in production. This process is the load generator: ``--clients``
threads, each with its own keep-alive connection, each request for a random customer.

  bare   GET /bench/bare/<id>: the same customer, source record and identifier rows read
         with the same session handling, returned without decryption, policy or audit.
  full   GET /v1/customers/<id> as a pharmacist for pharmacy_care: API key check, casbin,
         decrypt, render (masking, pharmacy_care re-redaction of free text), audit row in
         the same transaction, commit.

Also prints the policy decision cost (casbin alone, memoised) and the render cost.
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
from sqlalchemy import func, select

PORT = 5077


def bench_app():  # type: ignore[no-untyped-def]
    """The service plus the bare endpoint (only in this benchmark)."""
    from cdp.app import create_app
    from cdp.identity.models import Customer, Identifier, SourceRecord
    from cdp.web import db_session

    app = create_app()

    @app.get("/bench/bare/<customer_id>")
    def bare(customer_id: str):  # type: ignore[no-untyped-def]
        s = db_session()
        c = s.get(Customer, customer_id)
        if c is None:
            return jsonify({"error": "not found"}), 404
        recs = list(s.scalars(select(SourceRecord).where(SourceRecord.customer_id == customer_id)))
        idents = list(s.scalars(select(Identifier).where(Identifier.customer_id == customer_id)))
        return jsonify(
            {
                "customer_id": c.id,
                "status": c.status,
                "records": [
                    {
                        "id": r.id,
                        "source": r.source,
                        "bytes": len(r.profile_ct or b"") + len(r.orders_ct or b""),
                    }
                    for r in recs
                ],
                "identifiers": [{"type": i.type, "bytes": len(i.value_ct)} for i in idents],
            }
        )

    return app


def load(
    path_for: Any, headers: dict[str, str], clients: int, seconds: float, port: int
) -> dict[str, Any]:
    stop = time.perf_counter() + seconds
    lat: list[float] = []
    errors: dict[int, int] = {}
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], {}
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            conn.request("GET", path_for(), headers=headers)
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
    return {
        "requests": len(lat),
        "rps": len(lat) / wall,
        "p50_ms": lat[len(lat) // 2] * 1e3 if lat else 0,
        "p99_ms": lat[int(len(lat) * 0.99)] * 1e3 if lat else 0,
        "mean_ms": statistics.fmean(lat) * 1e3 if lat else 0,
        "errors": errors,
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


def decision_and_render_cost(platform: Any, ids: list[str]) -> None:
    from cdp.access.policy import decision_cost, load_policy_set
    from cdp.access.render import render
    from cdp.identity.view import assemble_customer

    policy = load_policy_set(platform.config.policy_dir)
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
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1/cdp_bench_read_p2"
    )
    ap.add_argument("--keyring", default="var/bench/read_keyring.json")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--port", type=int, default=PORT)
    ap.add_argument("--ratelimit-storage", default="redis://127.0.0.1:6379/14")
    ap.add_argument(
        "--as",
        dest="as_",
        action="append",
        default=None,
        help="ROLE:PURPOSE for the full run (repeatable); default customer_service:customer_support "
        "and pharmacist:pharmacy_care (free text re-redacted with Presidio per request)",
    )
    args = ap.parse_args()

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
        total = s.scalar(
            select(func.count()).select_from(Customer).where(Customer.status == "active")
        )
        ids = list(s.scalars(select(Customer.id).where(Customer.status == "active")))
        callers = [
            tuple(a.split(":", 1))
            for a in (args.as_ or ["customer_service:customer_support", "pharmacist:pharmacy_care"])
        ]
        keys = {(role, purpose): create_key(s, role, "read-bench")[1] for role, purpose in callers}
    random.seed(1)
    print(
        f"{total} active customers; {args.clients} clients; gunicorn {args.workers} workers x {args.threads} threads; "
        f"{args.seconds:.0f} s per run; 2 shared vCPUs (load generator on the same machine)"
    )
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
        runs = {}
        plan = [("bare", "/bench/bare/", {})] + [
            (
                f"full {role}/{purpose}",
                "/v1/customers/",
                {"Authorization": f"Bearer {key}", "X-Purpose-Of-Use": purpose},
            )
            for (role, purpose), key in keys.items()
        ]
        for name, path, headers in plan:
            load(
                lambda p=path: p + random.choice(ids), headers, args.clients, 3, args.port
            )  # warm-up
            runs[name] = r = load(
                lambda p=path: p + random.choice(ids),
                headers,
                args.clients,
                args.seconds,
                args.port,
            )
            print(
                f"{name:>40}: {r['requests']} requests, {r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} ms, "
                f"p99 {r['p99_ms']:.1f} ms, non-200 {r['errors'] or 'none'}"
            )
        for name, r in runs.items():
            if name != "bare":
                print(
                    f"{name}: full / bare throughput {r['rps'] / runs['bare']['rps']:.2f} (goal >= 0.33); "
                    f"p99 {r['p99_ms']:.1f} ms (goal < 50)"
                )
        print(
            json.dumps(
                {
                    "customers": total,
                    **{
                        k: {
                            kk: round(vv, 2) if isinstance(vv, float) else vv
                            for kk, vv in v.items()
                        }
                        for k, v in runs.items()
                    },
                }
            )
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        platform.dispose()


if __name__ == "__main__":
    main()
