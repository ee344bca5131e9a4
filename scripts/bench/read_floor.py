#!/usr/bin/env python
"""The floor of a full customer read: the parts a read with the service's guarantees pays,
as the service does them now, measured against the bare read in the same run.

    # a database of generated customers (scripts/bench/ingest_scale.py --keep prints these):
    python -m scripts.bench.read_floor \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/cdp_bench_scale_80000 \
        --keyring var/bench/cdp_bench_scale_80000_keyring.json [--rate 250] [--rounds 5]

Issue 19 asks the full read to reach at least 0.6 of the bare read's highest rate. Near
saturation both are bound by the same two cores, so that ratio is at most the bare read's
CPU per request over the full read's. This script prints:

1. CPU per request of the bare read (``GET /bench/bare/<id>``: the view's SQL in the request
   transaction, nothing else) and of the full read (``GET /v1/customers/<id>`` as
   customer_service for customer_support), over HTTP against gunicorn with the production
   settings, offered at ``--rate`` per second by the open-loop benchmark's generator (a
   rate both kinds hold, so neither is measured in its queue): CPU of the gunicorn workers,
   of the PostgreSQL backends, of the Redis server and of the generator (Linux /proc).
2. The parts of a full read that a read with these guarantees must pay, each timed alone
   in this process on the same database and Redis, with the servers' CPU:
   - the API key's revocation read (checked on every request, so a revoked key is refused
     everywhere at once);
   - the two rate-limit hits in Redis (the key's requests, its customer records);
   - the audit entry and the commit that makes it durable before the answer, over the
     read-only commit the bare read also pays;
   - the CRM section's one read;
   - AES-GCM decryption of the customer's encrypted values (counted on the same customers).
   Each of ``--rounds`` rounds measures both kinds and then the parts, so a shared host's
   drift falls on all of them alike; the medians of the rounds are printed.
3. The bound: bare / (bare + those parts), the ratio a full read would reach if all its
   other work (policy decision, parsing the decrypted JSON, the golden profile, masking,
   the audit entry's text, the larger answer) cost nothing; and the CPU that other work may
   take for a ratio of 0.6, against what it takes now.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import select, text

from scripts.bench.openloop_bench import ROOT, run_phase, start_service, stop_service, wait_up
from scripts.bench.procstat import cpu_s, machine_figure_ms
from scripts.bench.read_api_bench import _cpu_ticks

PORT = 5091
SENDERS = 16
GOAL = 0.6


class Meter:
    """CPU seconds of this process, of one PostgreSQL backend and of the Redis server."""

    def __init__(self, backend_pid: int | None, redis_pid: int) -> None:
        self.backend_pid, self.redis_pid = backend_pid, redis_pid

    def read(self) -> tuple[float, float, float]:
        pg = (cpu_s(self.backend_pid) or 0.0) if self.backend_pid else 0.0
        return time.process_time(), pg, cpu_s(self.redis_pid) or 0.0

    def per_call(self, fn: Callable[[], Any], n: int) -> dict[str, float]:
        """Milliseconds of CPU per call of ``fn``: here, PostgreSQL, Redis, total."""
        a = self.read()
        for _ in range(n):
            fn()
        b = self.read()
        here, pg, rd = ((y - x) * 1000 / n for x, y in zip(a, b, strict=True))
        return {"here": here, "postgres": pg, "redis": rd, "total": here + pg + rd}


def http_phase(port: int, paths: list[str], headers: dict[str, str], rate: float,
               seconds: float, server_pid: int, database: str, redis_pid: int) -> dict[str, float]:
    """CPU per request (ms) of ``paths`` offered at ``rate`` per second (the open-loop
    benchmark's generator), by process: gunicorn workers, PostgreSQL backends, Redis server,
    the generator."""
    tick = os.sysconf("SC_CLK_TCK")
    c0, r0 = _cpu_ticks(server_pid, database), cpu_s(redis_pid) or 0.0
    res = run_phase(port, paths, headers, rate, seconds, SENDERS)
    c1, r1 = _cpu_ticks(server_pid, database), cpu_s(redis_pid) or 0.0
    if res["errors"]:
        raise SystemExit(f"{res['errors']} errors at {rate}/s ({res['error_codes']})")
    n = max(res["requests"], 1)
    row = {
        "gunicorn": (c1["service"] - c0["service"]) * 1000 / tick / n,
        "postgres": (c1["postgres"] - c0["postgres"]) * 1000 / tick / n,
        "redis": (r1 - r0) * 1000 / n,
        "client": float(res["gen_cpu_ms_per_req"]),
    }
    row["total"] = sum(row.values())
    return row


class Parts:
    """The parts of a full read a read with these guarantees must pay, each timed alone in
    this process on the service's database and Redis (see the module docstring)."""

    def __init__(self, platform: Any, redis_pid: int, storage: str, key_id: int,
                 key_prefix: str, customers: list[str]) -> None:
        from limits import parse

        from cdp.access.ratelimit import LimitSet, RateLimiter
        from cdp.audit.log import AuditEntry

        self.platform, self.redis_pid = platform, redis_pid
        self.key_id, self.key_prefix = key_id, key_prefix
        self.customers = itertools.cycle(customers)
        big = parse("10000000/minute")
        self.limiter = RateLimiter(storage, LimitSet(big, big, big, big))
        # The audit entry of a full read as customer_service (its categories, views and
        # withheld categories).
        self.entry = AuditEntry(
            actor=f"apikey:{key_prefix}", action="customers.read", role="customer_service",
            purpose="customer_support", categories=["identity", "contact", "demographic",
                                                    "address", "purchase", "consent"],
            view={"identity": "masked", "contact": "masked", "demographic": "plain",
                  "address": "masked", "purchase": "plain", "consent": "plain"},
            request_id="0" * 32, detail={"withheld": ["free_text", "health"]})
        self.decrypts_per_read, self.blobs = self._count_decryption(customers[:300])

    def _count_decryption(self, customers: list[str]) -> tuple[float, list[tuple[bytes, bytes, bytes]]]:
        """The values a full read of ``customers`` decrypts (the view's own calls)."""
        from cdp.crypto import fields
        from cdp.identity.view import assemble_customers

        blobs: list[tuple[bytes, bytes, bytes]] = []
        real = fields.decrypt

        def counting(key: bytes, blob: bytes, aad: bytes) -> bytes:
            blobs.append((key, blob, aad))
            return real(key, blob, aad)

        fields.decrypt = counting
        try:
            with self.platform.Session() as s:
                for cid in customers:
                    assemble_customers(s, self.platform, [cid])
        finally:
            fields.decrypt = real
        return len(blobs) / max(len(customers), 1), blobs

    def measure(self, n: int) -> dict[str, dict[str, float]]:
        from cdp.access import apikeys
        from cdp.audit.log import record
        from cdp.crm.view import _STATE
        from cdp.crypto import fields

        out: dict[str, dict[str, float]] = {}
        with self.platform.Session() as s:
            meter = Meter(s.execute(text("SELECT pg_backend_pid()")).scalar(), self.redis_pid)
            conn = s.connection()
            out["revocation read"] = meter.per_call(
                lambda: apikeys._REVOKED_AT.rows(conn, {"id": self.key_id}), n)
            out["CRM section read"] = meter.per_call(
                lambda: _STATE.rows(conn, {"id": next(self.customers)}), n)
            s.rollback()

            def hits() -> None:
                self.limiter.count_key_request(self.key_prefix)
                self.limiter.spend_customer_data(self.key_prefix, 1)

            out["two rate-limit hits"] = meter.per_call(hits, n)

            def read_only_commit() -> None:
                s.execute(text("SELECT 1"))
                s.commit()

            def audited_commit() -> None:
                record(s, replace(self.entry, customer_id=next(self.customers)))
                s.commit()

            base = meter.per_call(read_only_commit, n)
            audited = meter.per_call(audited_commit, n)
            out["audit entry + durable commit"] = {k: audited[k] - base[k] for k in audited}
        t0 = time.process_time()
        for dek, blob, aad in self.blobs:
            fields.decrypt(dek, blob, aad)
        per_read = (time.process_time() - t0) / max(len(self.blobs), 1) * 1000 * self.decrypts_per_read
        out["AES-GCM decryption"] = {"here": per_read, "postgres": 0.0, "redis": 0.0,
                                     "total": per_read}
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--keyring", required=True)
    ap.add_argument("--rate", type=float, default=250, help="requests/s offered, both kinds")
    ap.add_argument("--seconds", type=float, default=10, help="per kind and round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--parts", type=int, default=1500, help="calls per part and round")
    ap.add_argument("--port", type=int, default=PORT)
    ap.add_argument("--ratelimit-storage", default="redis://127.0.0.1:6379/13")
    args = ap.parse_args()

    import redis

    from cdp.access import apikeys
    from cdp.config import Config
    from cdp.identity.models import Customer
    from cdp.platform import Platform

    machine_ms = machine_figure_ms()
    info: dict[str, Any] = redis.Redis.from_url(args.ratelimit_storage).info("server")  # type: ignore[assignment]
    redis_pid = int(info["process_id"])
    database = args.database_url.rsplit("/", 1)[1]
    platform = Platform(Config(database_url=args.database_url, keyring_path=args.keyring,
                               policy_dir=str(ROOT / "policies")))
    with platform.transaction() as s:
        ids = list(s.scalars(select(Customer.id).where(Customer.status == "active")))
        key_row, key = apikeys.create_key(s, "customer_service", "read-floor-bench")
        key_id, key_prefix = key_row.id, key_row.prefix
    random.seed(5)
    order = random.sample(ids, min(len(ids), 20_000))
    print(f"machine: sum(range(10**7)) {machine_ms:.0f} ms, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; {len(ids):,} active customers", flush=True)
    parts = Parts(platform, redis_pid, args.ratelimit_storage, key_id, key_prefix, order)
    headers = {"bare": {}, "full": {"Authorization": f"Bearer {key}",
                                    "X-Purpose-Of-Use": "customer_support"}}

    def paths(kind: str, cids: list[str]) -> list[str]:
        return [f"/bench/bare/{c}" if kind == "bare" else f"/v1/customers/{c}" for c in cids]

    rounds: list[dict[str, Any]] = []
    server, _env = start_service(args.database_url, args.keyring, args.port, args.ratelimit_storage)
    try:
        wait_up(args.port)
        for kind in ("bare", "full"):  # caches, pools, the workers' first requests
            http_phase(args.port, paths(kind, order[-2000:]), headers[kind], args.rate, 4,
                       server.pid, database, redis_pid)
        # Each round: both reads over HTTP, then the parts alone, so the machine's drift
        # (a shared host) falls on all three alike; the medians of the rounds are reported.
        for i in range(args.rounds):
            at = (i * 3000) % max(len(order) - 3000, 1)  # past the sample: its slices again
            cids = order[at:at + 3000]
            r: dict[str, Any] = {k: http_phase(args.port, paths(k, cids), headers[k], args.rate,
                                               args.seconds, server.pid, database, redis_pid)
                                 for k in ("bare", "full")}
            r["parts"] = parts.measure(args.parts)
            b, f = r["bare"]["total"], r["full"]["total"]
            floor = sum(p["total"] for p in r["parts"].values())
            r.update(ratio=b / f, floor=floor, bound=b / (b + floor), other=f - b - floor,
                     budget=b / GOAL - b - floor)
            rounds.append(r)
            print(f"round {i + 1}: bare {b:.3f} ms, full {f:.3f} ms CPU/request, bare/full "
                  f"{r['ratio']:.2f}; parts {floor:.3f} ms, bound {r['bound']:.2f}", flush=True)
    finally:
        stop_service(server)
        platform.dispose()

    def med(get: Callable[[dict[str, Any]], float]) -> float:
        return statistics.median(get(r) for r in rounds)

    print(f"medians of {len(rounds)} rounds (ms CPU per request: gunicorn workers, PostgreSQL "
          f"backends, Redis server, client):", flush=True)
    for kind in ("bare", "full"):
        print(f"  {kind:30} " + "  ".join(
            f"{k} {statistics.median(r[kind][k] for r in rounds):.3f}"
            for k in ("gunicorn", "postgres", "redis", "client", "total")), flush=True)
    print(f"  parts alone ({parts.decrypts_per_read:.1f} values decrypted a read):", flush=True)
    for name in rounds[0]["parts"]:
        print(f"  {name:30} " + "  ".join(
            f"{k} {statistics.median(r['parts'][name][k] for r in rounds):.3f}"
            for k in ("here", "postgres", "redis", "total")), flush=True)
    other, budget = med(lambda r: r["other"]), med(lambda r: r["budget"])
    print(f"bare/full now {med(lambda r: r['ratio']):.2f}; the parts {med(lambda r: r['floor']):.3f} "
          f"ms; bound if all else in a full read were free: {med(lambda r: r['bound']):.2f} "
          f"(goal >= {GOAL})", flush=True)
    print(f"all else in a full read: {other:.3f} ms now; a ratio of {GOAL} leaves it "
          f"{budget:.3f} ms ({budget / other:.2f} of now)", flush=True)


if __name__ == "__main__":
    main()
