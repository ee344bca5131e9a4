"""What the issue-18 defences add to each authenticated customer read, in isolation.

    python -m scripts.bench.security_overhead_bench [--pg postgresql://postgres@127.0.0.1/postgres]
        [--redis redis://127.0.0.1:6379/13] [--n 2000]

Per read the service now pays, on top of what it paid before:
  revocation   one `SELECT id, revoked_at FROM api_keys WHERE id = :id` (a remembered key's
               revocation is read on every request, so revoking is immediate)
  budget       one more rate-limit counter hit (the key's customer-record budget, besides the
               per-key request limit it always paid)
Measured in the same run against baselines: a bare `SELECT 1` round trip on the same
PostgreSQL connection, and the per-key hit the service already made. Machine figure: the time
of sum(range(10**7)). Each figure is the median over --n calls. Stops by itself.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import psycopg


def _median_us(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()

    t = time.perf_counter()
    sum(range(10**7))
    print(f"machine: sum(range(10**7)) = {(time.perf_counter() - t) * 1000:.1f} ms")

    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE api_keys (id int primary key, prefix text, "
                     "revoked_at timestamptz)")
        conn.execute("INSERT INTO api_keys SELECT g, md5(g::text), NULL "
                     "FROM generate_series(1, 1000) g")
        conn.execute("ANALYZE api_keys")
        base = _median_us(lambda: conn.execute("SELECT 1").fetchone(), args.n)
        revocation = _median_us(
            lambda: conn.execute("SELECT id, revoked_at FROM api_keys WHERE id = %s",
                                 (517,)).fetchone(), args.n)
    print(f"PostgreSQL: SELECT 1 {base:7.1f} us | revocation read {revocation:7.1f} us "
          f"({revocation / base:.2f}x the bare round trip)")

    from limits import parse
    from limits.storage import storage_from_string
    from limits.strategies import SlidingWindowCounterRateLimiter

    try:
        store = storage_from_string(args.redis)
        limiter = SlidingWindowCounterRateLimiter(store)
        item = parse("1000000/minute")
        key = uuid.uuid4().hex
        limiter.hit(item, "bench", key)
    except Exception as exc:  # noqa: BLE001 - a benchmark without Redis reports and stops
        print(f"Redis unreachable ({type(exc).__name__}): counter figures skipped")
        return 0
    per_key = _median_us(lambda: limiter.hit(item, "bench", "key", key), args.n)
    budget = _median_us(lambda: limiter.hit(item, "bench", "data", key, cost=3), args.n)
    print(f"Redis: per-key hit (paid before) {per_key:7.1f} us | budget hit (new) {budget:7.1f} us "
          f"({budget / per_key:.2f}x)")
    print(f"added per read: about {revocation + budget:.0f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
