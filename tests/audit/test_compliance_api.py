"""Compliance endpoints: who saw what, verification over HTTP, break-glass and heavy-reader reports."""

from __future__ import annotations

import threading

from sqlalchemy import text

from cdp.audit.log import AuditEntry, record
from tests.access.fixtures import FULL_RECORD, ingest, record_variant
from tests.audit.helpers import tamper, write_entries


def test_events_filter_and_compliance_only(client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid, other] = ingest(
        client, make_api_key("ingest_service"), [FULL_RECORD, record_variant("x-1", 1, [])]
    )
    reader = make_api_key("pharmacist", "pharmacy_care")
    client.get(f"/v1/customers/{cid}", headers=reader)
    client.get(f"/v1/customers/{other}", headers=reader)
    client.get(
        f"/v1/customers/{cid}", headers={**reader, "X-Purpose-Of-Use": "marketing"}
    )  # denied
    officer = make_api_key("compliance_officer", "compliance_audit")
    r = client.get(
        "/v1/audit/events",
        query_string={"customer_id": cid, "action": "customers.read"},
        headers=officer,
    )
    assert r.status_code == 200, r.get_json()
    events = r.get_json()["events"]
    assert [(e["decision"], e["purpose"]) for e in events] == [
        ("allow", "pharmacy_care"),
        ("deny", "marketing"),
    ]
    assert events[0]["view"]["health"] == "plain" and "health" in events[0]["categories"]
    actor = events[0]["actor"]
    r = client.get(
        "/v1/audit/events",
        query_string={
            "actor": actor,
            "since": "2000-01-01T00:00:00Z",
            "until": "2999-01-01T00:00:00",
        },
        headers=officer,
    )
    assert {e["customer_id"] for e in r.get_json()["events"]} == {cid, other}
    assert (
        client.get(
            "/v1/audit/events", query_string={"since": "yesterday"}, headers=officer
        ).status_code
        == 422
    )
    # Not for other roles, and asking is itself audited.
    assert client.get("/v1/audit/events", headers=reader).status_code == 403
    r = client.get("/v1/audit/events", query_string={"action": "audit.read"}, headers=officer)
    assert len(r.get_json()["events"]) >= 2


def test_verify_endpoint_reports_first_bad_entry(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    write_entries(platform, 5, per_tx=5)
    admin = make_api_key("admin")
    r = client.get("/v1/audit/verify", headers=admin)
    assert r.status_code == 200 and r.get_json()["ok"] is True
    with platform.engine.connect() as c:
        victim = c.execute(
            text("SELECT id FROM audit_events ORDER BY id LIMIT 1 OFFSET 2")
        ).scalar()
    tamper(platform, "UPDATE audit_events SET customer_id = 'someone-else' WHERE id = :i", i=victim)
    body = client.get("/v1/audit/verify", headers=admin).get_json()
    assert body["ok"] is False and body["first_bad"]["entry_id"] == victim
    assert client.get("/v1/audit/verify", headers=make_api_key("pharmacist")).status_code == 403


def test_break_glass_and_heavy_reader_reports(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    ids = ingest(
        client,
        make_api_key("ingest_service"),
        [FULL_RECORD] + [record_variant(f"h-{n}", n, []) for n in range(1, 4)],
    )
    agent = make_api_key("customer_service", "customer_support")
    grant = client.post(
        f"/v1/customers/{ids[0]}/break-glass",
        headers=agent,
        json={"reason": "Caller cannot receive SMS; confirming the full number"},
    ).get_json()
    client.get(f"/v1/customers/{ids[0]}", headers={**agent, "X-Break-Glass": grant["grant_id"]})
    scraper = make_api_key("customer_service", "customer_support")
    for cid in ids:
        client.get(f"/v1/customers/{cid}", headers=scraper)
    officer = make_api_key("compliance_officer", "compliance_audit")
    grants = client.get("/v1/audit/reports/break-glass", headers=officer).get_json()["grants"]
    assert [(g["grant_id"], g["reads"]) for g in grants] == [(grant["grant_id"], 1)]
    assert grants[0]["reason"].startswith("Caller cannot receive SMS")
    actors = client.get(
        "/v1/audit/reports/heavy-readers",
        headers=officer,
        query_string={"window_minutes": 5, "threshold": 4},
    ).get_json()["actors"]
    assert len(actors) == 1 and actors[0]["distinct_customers"] == 4
    assert actors[0]["actor"] == "apikey:" + scraper["Authorization"].split("_")[1]


def test_concurrent_writers_keep_every_chain_intact(platform, cli_env) -> None:  # type: ignore[no-untyped-def]
    from tests.audit.helpers import run_verify

    errors: list[Exception] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                with platform.transaction() as s:
                    record(
                        s,
                        AuditEntry(
                            actor=f"w{n}", action="customers.read", customer_id=f"{n:02d}{i:030d}"
                        ),
                    )
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    code, out = run_verify(cli_env)
    assert code == 0, out
    assert "audit log intact: 90 entries" in out
