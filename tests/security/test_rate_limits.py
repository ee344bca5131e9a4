"""Defects 2, 3, 6, 7 and 15 of issue 18, from the attacker's side: locking a victim's key
out by its public prefix, flooding the audit log with failed authentications, reading far
more customers than the per-request limit suggests, a counter store that is down, and a
revoked key that kept working."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from cdp.audit.models import AuditEvent
from tests.access.fixtures import ingest, record_variant
from tests.security.live import free_port, live_gunicorn

# An id no customer has. Random rather than all zeros: a live server's request lines reach the
# log (urllib3), and the run's log check would find a placeholder phone (00000000000) in them.
NO_SUCH_CUSTOMER = uuid.uuid4().hex


def _app(config, **limits):  # type: ignore[no-untyped-def]
    """The app with ``limits``. The tests use windows of an hour: the sliding window of a
    minute may roll over between two requests on a loaded machine and let one more in."""
    from cdp.app import create_app

    return create_app(replace(config, **limits))


def _addr() -> dict[str, str]:
    """A client address of its own for this test (counters may be shared through Redis)."""
    n = uuid.uuid4().int
    return {"REMOTE_ADDR": f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"}


def _audit_count(platform, **where) -> int:  # type: ignore[no-untyped-def]
    with platform.Session() as s:
        q = select(func.count()).select_from(AuditEvent)
        for k, v in where.items():
            q = q.where(getattr(AuditEvent, k) == v)
        return int(s.scalar(q) or 0)


def test_wrong_secrets_under_a_victims_prefix_neither_lock_it_out_nor_blame_it(  # type: ignore[no-untyped-def]
    config, platform, make_api_key
) -> None:
    app = _app(config, ratelimit_default="5/hour", ratelimit_anonymous="20/hour")
    client = app.test_client()
    victim = make_api_key("customer_service", "customer_support")
    prefix = victim["Authorization"].split("_")[1]
    url = "/v1/customers/" + NO_SUCH_CUSTOMER
    attacker = _addr()
    forged = {**victim, "Authorization": f"Bearer cdp_{prefix}_{'x' * 43}"}
    codes = [client.get(url, headers=forged, environ_base=attacker).status_code for _ in range(40)]
    # The attacker is stopped by its own address's limit...
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    # ...and the victim, elsewhere, is untouched: its own allowance is whole.
    mine = _addr()
    assert [client.get(url, headers=victim, environ_base=mine).status_code for _ in range(5)] == [404] * 5
    # Nothing in the audit log is attributed to the victim's key but its own reads.
    with platform.Session() as s:
        blamed = list(s.scalars(select(AuditEvent).where(AuditEvent.actor == f"apikey:{prefix}")))
    assert [e.decision for e in blamed] == ["deny"] * 5  # its five 404 reads (not found)
    assert {e.detail["reason"] for e in blamed} == {"not_found"}
    app.extensions["cdp"].dispose()


def test_failed_authentications_are_limited_per_address_and_audited_in_aggregate(  # type: ignore[no-untyped-def]
    config, platform, monkeypatch
) -> None:
    from cdp.access import ratelimit

    # Windows of an hour, so that none ends during the attack on a slow machine (limits of
    # a minute, as in production, would make the test depend on the clock).
    monkeypatch.setattr(ratelimit, "DENIAL_WINDOW_SECONDS", 3600)
    app = _app(config, ratelimit_anonymous="30/hour")
    client = app.test_client()
    addr = _addr()
    url = "/v1/customers/" + NO_SUCH_CUSTOMER
    codes = []
    for _ in range(300):  # a fresh random prefix per request: no per-key bucket to fill
        forged = {"Authorization": f"Bearer cdp_{uuid.uuid4().hex[:12]}_{'y' * 43}",
                  "X-Purpose-Of-Use": "customer_support"}
        codes.append(client.get(url, headers=forged, environ_base=addr).status_code)
    assert codes[:30] == [401] * 30 and set(codes[30:]) == {429}
    refused = client.get(url, headers=forged, environ_base=addr)
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    # 300 attempts, two audit rows: the 1st and the 10th denial of this address's window.
    with platform.Session() as s:
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.denied")))
    assert [(e.actor, e.detail["client"], e.detail["denied_in_window"]) for e in rows] == [
        ("anonymous", addr["REMOTE_ADDR"], 1), ("anonymous", addr["REMOTE_ADDR"], 10)]
    assert _audit_count(platform) == 2
    app.extensions["cdp"].dispose()


def test_unauthenticated_traffic_has_a_global_limit_that_spares_known_keys(  # type: ignore[no-untyped-def]
    config, make_api_key
) -> None:
    app = _app(config, ratelimit_anonymous_global="25/hour", ratelimit_anonymous="100/hour")
    client = app.test_client()
    url = "/v1/customers/" + NO_SUCH_CUSTOMER
    worker = make_api_key("customer_service", "customer_support")
    assert client.get(url, headers=worker, environ_base=_addr()).status_code == 404
    # Many addresses, one bad request each (a botnet): the global limit stops them.
    codes = [client.get(url, environ_base=_addr()).status_code for _ in range(40)]
    assert codes[:25] == [401] * 25 and set(codes[25:]) == {429}
    # A key this service already knows valid is still served, from a new address too.
    assert client.get(url, headers=worker, environ_base=_addr()).status_code == 404
    app.extensions["cdp"].dispose()


def test_a_key_has_one_budget_of_customer_records_across_reads_and_lookups(  # type: ignore[no-untyped-def]
    config, make_api_key
) -> None:
    app = _app(config, ratelimit_customer_data="30/hour")
    client = app.test_client()
    # Three people sharing one family phone (different names: they stay three customers).
    family = [record_variant(f"fam-{n}", n, []) for n in (1, 2, 3)]
    for rec in family:
        rec["identifiers"] = [{"type": "phone", "value": "13700009999"}]
    ids = ingest(client, make_api_key("ingest_service"), family)
    assert len(set(ids)) == 3
    agent = make_api_key("customer_service", "customer_support")
    lookup = {"identifier_type": "phone", "value": "13700009999"}
    codes = [client.get("/v1/customers", headers=agent, query_string=lookup).status_code
             for _ in range(8)]
    # Each lookup returns 3 customers and costs 4: seven fit in 30, the eighth does not.
    assert codes == [200] * 7 + [429]
    # The same budget covers reads by id: two records are left, then none.
    read = [client.get(f"/v1/customers/{ids[0]}", headers=agent).status_code for _ in range(3)]
    assert read == [200, 200, 429]
    # Another key has its own budget.
    other = make_api_key("customer_service", "customer_support")
    assert client.get(f"/v1/customers/{ids[0]}", headers=other).status_code == 200
    app.extensions["cdp"].dispose()


def test_a_key_over_its_limit_is_on_record(config, platform, make_api_key, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A script reading customer after customer with one key runs into the key's budget of
    customer records; the refusals are audited under the key (1st, 10th, ... in a window),
    so the log shows who tried to read more than allowed, and how hard."""
    from cdp.access import ratelimit

    monkeypatch.setattr(ratelimit, "DENIAL_WINDOW_SECONDS", 3600)
    app = _app(config, ratelimit_customer_data="3/hour")
    client = app.test_client()
    [cid] = ingest(client, make_api_key("ingest_service"), [record_variant("over-1", 1, [])])
    scraper = make_api_key("customer_service", "customer_support")
    prefix = scraper["Authorization"].split("_")[1]
    codes = [client.get(f"/v1/customers/{cid}", headers=scraper).status_code for _ in range(15)]
    assert codes == [200] * 3 + [429] * 12
    with platform.Session() as s:
        rows = list(s.scalars(select(AuditEvent).where(
            AuditEvent.actor == f"apikey:{prefix}", AuditEvent.decision == "deny")
            .order_by(AuditEvent.id)))
    assert [(e.action, e.customer_id, e.purpose, e.detail) for e in rows] == [
        ("customers.read", cid, "customer_support",
         {"reason": "rate_limited", "limit": "customer_data", "refused_in_window": n,
          "window_start": rows[0].detail["window_start"]}) for n in (1, 10)]
    # the three reads served are on record as reads; nothing of the refused ones but that
    assert _audit_count(platform, actor=f"apikey:{prefix}") == 3 + 2
    app.extensions["cdp"].dispose()


def _dead_redis_url() -> str:
    port = free_port()  # nothing listens there
    return f"redis://127.0.0.1:{port}/0"


def test_counter_store_unreachable_at_start_serves_with_one_warning(  # type: ignore[no-untyped-def]
    config, make_api_key, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="cdp.access.ratelimit")
    app = _app(config, ratelimit_storage_uri=_dead_redis_url(), ratelimit_default="4/hour")
    headers = make_api_key("customer_service", "customer_support")
    url = "/v1/customers/" + NO_SUCH_CUSTOMER
    codes: list[int] = []
    lock = threading.Lock()

    def hit() -> None:
        r = app.test_client().get(url, headers=headers)
        with lock:
            codes.append(r.status_code)

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(codes) == [404] * 4
    warnings = [r for r in caplog.records if r.name == "cdp.access.ratelimit"]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()
    # The limits still hold, counted in this process.
    assert app.test_client().get(url, headers=headers).status_code == 429
    app.extensions["cdp"].dispose()


def _start_redis(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    server = "/usr/bin/redis-server"
    if not os.path.exists(server):
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    pytest.skip("redis-server did not start")


def test_counter_store_down_at_start_and_killed_mid_run_under_gunicorn(  # type: ignore[no-untyped-def]
    config, platform, tmp_path: Path
) -> None:
    from cdp.access.apikeys import create_key

    with platform.transaction() as s:
        _, key = create_key(s, "customer_service")
    headers = {"Authorization": f"Bearer {key}", "X-Purpose-Of-Use": "customer_support"}
    url = "/v1/customers/" + NO_SUCH_CUSTOMER

    def burst(base: str, n: int) -> list[int]:
        out: list[int] = []
        lock = threading.Lock()

        def one() -> None:
            r = requests.get(base + url, headers=headers, timeout=30)
            with lock:
                out.append(r.status_code)

        threads = [threading.Thread(target=one) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        return out

    # 1. Nothing listens at the configured Redis address when the service starts.
    env = {"CDP_RATELIMIT_STORAGE": _dead_redis_url()}
    (tmp_path / "a").mkdir()
    with live_gunicorn(config, tmp_path / "a", env=env) as (base, _):
        assert sorted(burst(base, 4) + burst(base, 4)) == [404] * 8
    applog = next((tmp_path / "a").glob("app-*.log")).read_text()
    assert applog.count("rate-limit storage unreachable") == 1

    # 2. Redis is up at start, then killed (SIGKILL) while requests are being served.
    redis_proc, port = _start_redis(tmp_path)
    (tmp_path / "b").mkdir()
    try:
        env = {"CDP_RATELIMIT_STORAGE": f"redis://127.0.0.1:{port}/0"}
        with live_gunicorn(config, tmp_path / "b", env=env) as (base, _):
            assert sorted(burst(base, 4)) == [404] * 4
            redis_proc.send_signal(signal.SIGKILL)
            redis_proc.wait(timeout=10)
            after = burst(base, 4) + burst(base, 4)
            assert sorted(after) == [404] * 8, after
    finally:
        if redis_proc.poll() is None:
            redis_proc.kill()
            redis_proc.wait(timeout=10)
    applog = next((tmp_path / "b").glob("app-*.log")).read_text()
    assert applog.count("rate-limit storage unreachable") == 1


def test_a_key_revoked_by_another_process_is_refused_by_every_worker_at_once(  # type: ignore[no-untyped-def]
    config, platform, cli_env, tmp_path: Path
) -> None:
    from cdp.access.apikeys import create_key, revoke_key

    with platform.transaction() as s:
        row, key = create_key(s, "customer_service")
    headers = {"Authorization": f"Bearer {key}", "X-Purpose-Of-Use": "customer_support"}
    with live_gunicorn(config, tmp_path, workers=2) as (base, _):
        url = base + "/v1/customers/" + NO_SUCH_CUSTOMER
        # Both workers have just authenticated (and remembered) the key.
        warm = [requests.get(url, headers=headers, timeout=30).status_code for _ in range(12)]
        assert set(warm) == {404}
        # Revoked by this process (as `cdp keys revoke` or another host would): the workers'
        # memory of the key is not touched.
        with platform.transaction() as s:
            revoke_key(s, row.prefix)
        after = [requests.get(url, headers=headers, timeout=30) for _ in range(12)]
        assert [r.status_code for r in after] == [401] * 12
        assert {r.json()["error"]["code"] for r in after} == {"revoked_api_key"}
        # And by the command line too (a second key, same story).
        with platform.transaction() as s:
            row2, key2 = create_key(s, "customer_service")
        headers2 = {**headers, "Authorization": f"Bearer {key2}"}
        assert requests.get(url, headers=headers2, timeout=30).status_code == 404
        cdp = Path(sys.executable).parent / "cdp"
        subprocess.run([str(cdp), "keys", "revoke", row2.prefix], env=cli_env, check=True,
                       capture_output=True, timeout=120)
        assert requests.get(url, headers=headers2, timeout=30).status_code == 401


def test_a_key_over_its_request_limit_is_on_record(config, platform, make_api_key, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The key's request limit is counted right after authentication, before the endpoint
    decides anything: its refusal is on record under the key too."""
    from cdp.access import ratelimit

    monkeypatch.setattr(ratelimit, "DENIAL_WINDOW_SECONDS", 3600)
    app = _app(config, ratelimit_default="3/hour")
    client = app.test_client()
    agent = make_api_key("customer_service", "customer_support")
    prefix = agent["Authorization"].split("_")[1]
    url = "/v1/customers/" + NO_SUCH_CUSTOMER
    codes = [client.get(url, headers=agent).status_code for _ in range(4)]
    assert codes == [404] * 3 + [429]
    with platform.Session() as s:
        [row] = s.scalars(select(AuditEvent).where(
            AuditEvent.actor == f"apikey:{prefix}",
            AuditEvent.detail["reason"].as_string() == "rate_limited"))
    assert (row.action, row.decision, row.customer_id) == ("customers.read", "deny", NO_SUCH_CUSTOMER)
    assert row.detail["limit"] == "per_key" and row.detail["refused_in_window"] == 1
    app.extensions["cdp"].dispose()
