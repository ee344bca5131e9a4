#!/usr/bin/env python
"""Server time of each console page for one customer with 50 source records, next to the
API read of the same customer (`GET /v1/customers/{id}`), in the same process and run.

    python -m scripts.bench.console_bench [--database-url URL] [--records 50] [--rounds 40]

Every request goes through the whole WSGI app in-process (Flask's test client: no socket,
no network): session cookie lookup, CSRF, the access guard, decryption, rendering, the
audit entry and its commit, the Jinja template, the security headers. The goal is under
100 ms per page (issue 17). Prints a machine figure (a Python loop) so runs on different
or busy machines can be compared, and each page's median as a ratio of the API read's.
Bounded: ``--rounds`` requests per page, and ``--max-seconds`` in all.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import statistics
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


def machine_figure() -> float:
    t = time.perf_counter()
    sum(range(10**7))
    return time.perf_counter() - t


def records(n: int) -> list[dict[str, Any]]:
    from tests.access.fixtures import FULL_RECORD

    out = []
    channels = ["jd_health", "ali_health", "pingan", "wechat", "app", "store", "call_centre"]
    for i in range(n):
        rec = copy.deepcopy(FULL_RECORD)
        rec["source"] = channels[i % len(channels)]
        rec["source_record_id"] = f"bench-{i:03d}"
        rec["identifiers"] = [{"type": "phone", "value": "+86 138 1234 5678"},
                              {"type": "member_id", "value": f"M{i:06d}"}]
        for o in rec["orders"]:
            o["order_id"] = f"{o['order_id']}-{i}"
        out.append(rec)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=None,
                    help="an empty database (default: a temporary SQLite file)")
    ap.add_argument("--records", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--max-seconds", type=float, default=240.0)
    ap.add_argument("--profile", default=None, metavar="WORD",
                    help="also print a cProfile of the first page whose name contains WORD")
    ap.add_argument("--sort", default="cumulative", choices=["cumulative", "tottime"],
                    help="order of the profile's lines")
    args = ap.parse_args()

    from cdp.access.apikeys import create_key
    from cdp.app import create_app
    from cdp.config import Config
    from cdp.console.accounts import create_user
    from cdp.crypto.keyring import Keyring
    from cdp.platform import upgrade_schema

    tmp = tempfile.mkdtemp(prefix="cdp-console-bench-")
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    upgrade_schema(url)
    Keyring.generate().save(f"{tmp}/keyring.json")
    app = create_app(Config(database_url=url, keyring_path=f"{tmp}/keyring.json",
                            policy_dir=os.path.join(ROOT, "policies"),
                            ratelimit_default="1000000/minute",
                            extra={"console_cookie_secure": False}))
    platform = app.extensions["cdp"]
    with platform.transaction() as s:
        _, ingest_key = create_key(s, "ingest_service")
        _, read_key = create_key(s, "customer_service")
        create_user(s, "bench-agent", "customer_service", "bench password 1234")
        create_user(s, "bench-steward", "data_steward", "bench password 1234")
        create_user(s, "bench-officer", "compliance_officer", "bench password 1234")
        create_user(s, "bench-marketing", "marketing", "bench password 1234")
    api = app.test_client()
    resp = api.post("/v1/records", json=records(args.records),
                    headers={"Authorization": f"Bearer {ingest_key}"})
    ids = {r["customer_id"] for r in resp.get_json()["results"]}
    assert resp.status_code == 200 and len(ids) == 1, "expected one customer"
    cid = ids.pop()
    from cdp.crm.refresh import refresh

    with platform.transaction() as s:
        refresh(s, platform)  # the customer's CRM profile: the 360's crm section, analytics

    def signed_in(name: str, purpose: str) -> Any:
        c = app.test_client()
        login_page = c.get("/console/login").get_data(as_text=True)
        found = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
        if found is None:
            raise SystemExit("console_bench: the login page has no CSRF token")
        token = found.group(1)
        c.post("/console/login",
               data={"username": name, "password": "bench password 1234", "csrf_token": token})
        page = c.get("/console/purpose").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        c.post("/console/purpose", data={"purpose": purpose, "csrf_token": token})
        c.csrf = token  # type: ignore[attr-defined]
        return c

    agent = signed_in("bench-agent", "customer_support")
    steward = signed_in("bench-steward", "customer_support")
    officer = signed_in("bench-officer", "compliance_audit")
    marketer = signed_in("bench-marketing", "marketing")
    headers = {"Authorization": f"Bearer {read_key}", "X-Purpose-Of-Use": "customer_support"}
    cases: list[tuple[str, Any]] = [
        ("api GET /v1/customers/{id}", lambda: api.get(f"/v1/customers/{cid}", headers=headers)),
        ("console customer 360", lambda: agent.get(f"/console/customers/{cid}")),
        ("console search (phone)",
         lambda: agent.post("/console/search", data={"q": "13812345678", "csrf_token": agent.csrf},
                            headers={"HX-Request": "true"})),
        ("console search page", lambda: agent.get("/console/")),
        ("console break-glass form", lambda: agent.get(f"/console/customers/{cid}/break-glass")),
        ("console steward (customer)", lambda: steward.get(f"/console/steward?customer={cid}")),
        ("console audit (customer)", lambda: officer.get(f"/console/compliance/audit?customer_id={cid}")),
        ("console analytics (marketing)", lambda: marketer.get("/console/analytics")),
    ]
    machine = machine_figure()
    print(f"machine: sum(range(10**7)) = {machine * 1000:.0f} ms; load average {os.getloadavg()[0]:.2f}")
    print(f"customer with {args.records} source records; {args.rounds} requests per page; "
          f"database {url.split(':', 1)[0]}")
    deadline = time.monotonic() + args.max_seconds
    results: dict[str, list[float]] = {name: [] for name, _ in cases}
    cpu: dict[str, list[float]] = {name: [] for name, _ in cases}
    for name, call in cases:
        for _ in range(3):  # warm-up
            assert call().status_code == 200, name
    # Round-robin over the pages, so a burst of load from other processes hits every page
    # alike and the ratios stay comparable; CPU time of this thread (the app runs in it)
    # beside the wall time, as it moves much less with the machine's load.
    for _ in range(args.rounds):
        if time.monotonic() > deadline:
            break
        for name, call in cases:
            t, c = time.perf_counter(), time.thread_time()
            r = call()
            cpu[name].append((time.thread_time() - c) * 1000)
            results[name].append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (name, r.status_code)
    if args.profile:
        import cProfile
        import pstats

        name, call = next((n, c) for n, c in cases if args.profile in n)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(10):
            call()
        prof.disable()
        print(f"profile of 10 x {name}:")
        pstats.Stats(prof).sort_stats(args.sort).print_stats(60)
    base = statistics.median(results[cases[0][0]])
    base_cpu = statistics.median(cpu[cases[0][0]])
    print(f"{'page':32} {'median ms':>10} {'p95 ms':>8} {'x API':>6} {'cpu ms':>7} {'x API':>6}"
          "  goal < 100 ms")
    for name, times in results.items():
        times.sort()
        med = statistics.median(times)
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        med_cpu = statistics.median(cpu[name])
        ok = "ok" if med < 100 else "OVER"
        print(f"{name:32} {med:10.1f} {p95:8.1f} {med / base:6.2f} {med_cpu:7.1f} "
              f"{med_cpu / base_cpu:6.2f}  {ok}")
    platform.dispose()


if __name__ == "__main__":
    main()
