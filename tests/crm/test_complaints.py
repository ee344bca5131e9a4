"""Complaints: SLA breach and the ADR reporting deadline across month and year ends,
transitions (audited), tickets from complaint interactions, the monthly report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from cdp.audit.models import AuditEvent
from cdp.crm import complaints
from cdp.crm.models import CareTask, Complaint
from cdp.crm.settings import load_settings
from cdp.policyfiles import PolicyFiles
from tests.conftest import POLICY_DIR
from tests.crm.helpers import ingest_records, order, otc, person, run_cli

SH = ZoneInfo("Asia/Shanghai")
SETTINGS = load_settings(PolicyFiles(POLICY_DIR))


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_sla_breach_across_the_year_end() -> None:
    # normal priority: first response within 24 h, resolution within 168 h
    c = Complaint(
        priority="normal",
        opened_at=sh(2025, 12, 31, 20, 0).astimezone(UTC),
        first_response_at=sh(2026, 1, 1, 21, 0).astimezone(UTC),  # 25 h later
        resolved_at=sh(2026, 1, 7, 19, 0).astimezone(UTC),
    )  # 167 h later
    flags = complaints.sla(c, SETTINGS, sh(2026, 2, 1, 0, 0))
    assert flags["first_response_breached"] and not flags["resolution_breached"]
    assert flags["first_response_due"] == sh(2026, 1, 1, 20, 0).astimezone(UTC).isoformat()
    # still open at the end of January: the clock keeps running against now
    open_c = Complaint(priority="urgent", opened_at=sh(2026, 1, 31, 23, 0).astimezone(UTC))
    assert not complaints.sla(open_c, SETTINGS, sh(2026, 2, 1, 0, 59))["first_response_breached"]
    assert complaints.sla(open_c, SETTINGS, sh(2026, 2, 1, 1, 1))["first_response_breached"]


def test_adr_deadline_across_month_and_year_ends() -> None:
    due = complaints.adr_due
    assert due(date(2025, 12, 20), serious=True, new=False, death=False, settings=SETTINGS) == date(
        2026, 1, 4
    )
    assert due(date(2025, 12, 20), serious=False, new=True, death=False, settings=SETTINGS) == date(
        2026, 1, 4
    )
    assert due(date(2025, 12, 20), serious=False, new=False, death=False, settings=SETTINGS) == date(
        2026, 1, 19
    )
    assert due(date(2026, 1, 31), serious=False, new=False, death=False, settings=SETTINGS) == date(
        2026, 3, 2
    )
    assert due(date(2028, 2, 14), serious=True, new=False, death=False, settings=SETTINGS) == date(
        2028, 2, 29
    )
    assert due(date(2025, 12, 31), serious=True, new=True, death=True, settings=SETTINGS) == date(
        2025, 12, 31
    )


def test_complaint_lifecycle_through_the_api(client, make_api_key, platform) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest_records(
        client, make_api_key, [person([order("C1", "2025-12-01T10:00:00+08:00", [otc(10.0)])])]
    )
    ph = make_api_key("pharmacist", "pharmacy_care")
    r = client.post(
        "/v1/crm/complaints",
        headers=ph,
        json={
            "customer_id": cid,
            "category": "adverse_drug_reaction",
            "description": "服药后皮疹",
            "adr": {"learned_on": "2025-12-20", "serious": True},
        },
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["priority"] == "urgent" and body["state"] == "open"
    assert body["adr"]["report_due_on"] == "2026-01-04"
    kid = body["id"]
    for bad in (
        {"customer_id": cid, "category": "weather"},
        {"customer_id": cid, "category": "billing", "priority": "asap"},
        {"category": "billing"},
    ):
        r = client.post("/v1/crm/complaints", headers=ph, json=bad)
        assert r.status_code == 422, bad
    r = client.post("/v1/crm/complaints", headers=ph, json={"customer_id": "nobody", "category": "billing"})
    assert r.status_code == 404
    r = client.post(f"/v1/crm/complaints/{kid}/transition", headers=ph, json={"to": "closed"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invalid_transition"
    r = client.post(
        f"/v1/crm/complaints/{kid}/transition", headers=ph, json={"to": "acknowledged", "satisfaction": 5}
    )
    assert r.status_code == 409
    for to in ("acknowledged", "investigating", "resolved"):
        r = client.post(f"/v1/crm/complaints/{kid}/transition", headers=ph, json={"to": to})
        assert r.status_code == 200 and r.get_json()["state"] == to
    assert r.get_json()["first_response_at"] is not None
    r = client.post(
        f"/v1/crm/complaints/{kid}/transition", headers=ph, json={"to": "closed", "satisfaction": 4}
    )
    assert r.get_json()["satisfaction"] == 4
    r = client.post(f"/v1/crm/complaints/{kid}/transition", headers=ph, json={"to": "open"})
    assert r.status_code == 200 and r.get_json()["resolved_at"] is None  # reopened
    with platform.transaction() as s:
        moves = [
            e.detail["to"]
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "crm.complaint.transition")
                .order_by(AuditEvent.id)
            )
        ]
        tasks = list(s.scalars(select(CareTask).where(CareTask.customer_id == cid)))
    assert moves == ["acknowledged", "investigating", "resolved", "closed", "open"]
    assert [t.kind for t in tasks] == ["complaint_followup"]
    r = client.get(
        f"/v1/crm/complaints?customer_id={cid}", headers=make_api_key("customer_service", "customer_support")
    )
    assert r.status_code == 200 and [c["id"] for c in r.get_json()["complaints"]] == [kid]
    r = client.get("/v1/crm/complaints", headers=make_api_key("marketing", "marketing"))
    assert r.status_code == 403


def test_privacy_complaint_opens_a_dsr(client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest_records(client, make_api_key, [person([])])
    cs = make_api_key("customer_service", "customer_support")
    r = client.post(
        "/v1/crm/complaints", headers=cs, json={"customer_id": cid, "category": "privacy", "open_dsr": True}
    )
    assert r.status_code == 201 and r.get_json()["dsr_id"]
    r = client.post(
        "/v1/crm/complaints", headers=cs, json={"customer_id": cid, "category": "billing", "open_dsr": True}
    )
    assert r.status_code == 422


def test_interactions_become_tickets_and_the_report_suppresses(client, make_api_key, cli_env) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest_records(
        client,
        make_api_key,
        [
            person(
                [order("I1", "2025-11-01T10:00:00+08:00", [otc(10.0)])],
                interactions=[
                    {
                        "kind": "complaint",
                        "at": "2025-11-30T23:30:00+08:00",
                        "text": "服用后出现严重皮疹，已去急诊",
                    },
                    {"kind": "complaint", "at": "2025-11-02T10:00:00+08:00", "text": "快递三天还没送达"},
                    {"kind": "consultation", "at": "2025-11-02T10:00:00+08:00", "text": "请问怎么服用"},
                ],
            )
        ],
    )
    run_cli(cli_env, "crm", "refresh")
    run_cli(cli_env, "crm", "refresh")  # no second ticket
    r = client.get(
        f"/v1/crm/complaints?customer_id={cid}", headers=make_api_key("pharmacist", "pharmacy_care")
    )
    got = {c["category"]: c for c in r.get_json()["complaints"]}
    assert set(got) == {"adverse_drug_reaction", "delivery"}
    adr = got["adverse_drug_reaction"]["adr"]
    # learned at 23:30 Shanghai time on Nov 30 (15:30 UTC): the day is Nov 30, serious: 15 days
    assert adr["learned_on"] == "2025-11-30" and adr["serious"] and adr["report_due_on"] == "2025-12-15"
    an = make_api_key("analyst", "analytics")
    r = client.get("/v1/crm/reports/complaints?month=2025-11", headers=an)
    assert r.status_code == 200
    rows = r.get_json()["rows"]
    assert rows and all(row["volume"] is None and row["suppressed"] for row in rows)
    assert cid not in r.get_data(as_text=True)
    r = client.get("/v1/crm/reports/complaints?month=2025-13", headers=an)
    assert r.status_code == 422
