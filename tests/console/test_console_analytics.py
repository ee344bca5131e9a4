"""Screen 7 (marketing and analysts) and the pharmacist's adherence, through the Flask test
client on a population scored by a real CRM refresh."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from cdp.audit.models import AuditEvent
from cdp.crm.adherence import Fill, pdc_for_class
from tests.console.conftest import crm_as_of
from tests.console.helpers import login


def _signed_in(app: Any, staff: dict[str, str], role: str) -> Any:
    client = app.test_client()
    login(client, staff[role], role=role)
    return client


def _events(app: Any, action: str) -> list[AuditEvent]:
    with app.extensions["cdp"].transaction() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)))


def _row(html: str, name: str) -> str:
    m = re.search(rf"<tr><th scope=\"row\">{name}</th>(.*?)</tr>", html, re.S)
    assert m, f"no row {name}"
    return m.group(1)


def test_marketing_sees_sizes_and_consented_members(console_app, staff, crm_population) -> None:  # type: ignore[no-untyped-def]
    c = _signed_in(console_app, staff, "marketing")
    page = c.get("/console/analytics")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    refreshed_today = crm_as_of() == datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    for seg in ("marketplace_buyers", "statin_users"):
        cells = re.findall(r"<td>([^<]*)</td>", _row(html, seg))
        assert cells[2] == "12", cells  # size
        if refreshed_today:  # the refresh entered all 12 this week, nobody left
            assert cells[3:5] == ["12", "&lt; 10"], cells
    assert 'href="/console/analytics/segments/statin_users"' in html
    for cid in sum(crm_population.values(), []):
        assert cid not in html  # the analytics page itself lists nobody

    plain = c.get("/console/analytics/segments/marketplace_buyers").get_data(as_text=True)
    listed = set(re.findall(r'href="/console/customers/([0-9a-f]+)"', plain))
    assert listed == set(crm_population["both"] + crm_population["marketing"])
    assert 'id="held-back">2<' in plain
    health = c.get("/console/analytics/segments/statin_users").get_data(as_text=True)
    listed_health = set(re.findall(r'href="/console/customers/([0-9a-f]+)"', health))
    assert listed_health == set(crm_population["both"])
    assert 'id="held-back">8<' in health
    # one audit entry per member listed (health category for the health segment), as the API
    rows = [e for e in _events(console_app, "crm.segments.members") if e.customer_id]
    assert sorted(e.customer_id for e in rows) == sorted(list(listed) + list(listed_health))
    assert {tuple(e.categories) for e in rows if e.customer_id in listed_health
            and e.detail["segment"] == "statin_users"} == {("crm_scores", "health")}
    assert all(e.actor == "user:marketing" and e.purpose == "marketing" for e in rows)
    assert c.get("/console/analytics/segments/nope").status_code == 404
    assert c.get("/console/analytics/segments/statin_users?after=x'--").status_code == 422
    assert c.get("/console/analytics?month=1999-01").status_code == 422


def test_analyst_sees_suppressed_aggregates_and_no_member(console_app, staff, crm_population) -> None:  # type: ignore[no-untyped-def]
    c = _signed_in(console_app, staff, "analyst")
    page = c.get("/console/analytics")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for cid in sum(crm_population.values(), []):
        assert cid not in html
    assert "/console/analytics/segments/" not in html and "/console/customers/" not in html
    assert re.findall(r"<td>([^<]*)</td>", _row(html, "statin_users"))[2] == "12"
    # 12 customers in five value scores: every score's count is under the floor of 10
    retention = html[html.index('id="ch-retention"'):]
    retention = retention[:retention.index("</section>")]
    assert retention.count("&lt; 10") >= 5 and "suppressed" in retention
    # the adherence distribution: 12 statin patients, all in one band
    adherence = html[html.index('id="ch-adherence"'):]
    assert re.search(r'<th scope="row">statins</th><td>(12|&lt; 10)</td>', adherence)
    for chart in ("ch-seg-size", "ch-seg-move", "ch-retention", "ch-adherence", "ch-pdc",
                  "ch-complaints"):
        assert f'id="{chart}"' in html
    assert "<svg" in html and "style=" not in html.split("<main", 1)[1]
    zh = c.get("/console/analytics", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "分群规模" in zh and "按价值评分的留存与流失" in zh and "&lt; 10" in zh
    refused = c.get("/console/analytics/segments/marketplace_buyers")
    assert refused.status_code == 403
    assert crm_population["both"][0] not in refused.get_data(as_text=True)
    denied = [e for e in _events(console_app, "crm_members.read") if e.decision == "deny"]
    assert [(e.actor, e.purpose) for e in denied] == [("user:analyst", "analytics")]
    assert _events(console_app, "crm.segments.members") == []


def test_pharmacist_sees_pdc_per_class_and_refill_due(console_app, staff, crm_population) -> None:  # type: ignore[no-untyped-def]
    as_of = crm_as_of()
    cid = crm_population["none"][0]  # care is no marketing: consents do not matter here
    c = _signed_in(console_app, staff, "pharmacist")
    html = c.get(f"/console/customers/{cid}").get_data(as_text=True)
    first, second = as_of - timedelta(days=40), as_of - timedelta(days=10)
    fills = [Fill(first, "C10AA05", 30), Fill(second, "C10AA05", 30)]
    want = pdc_for_class("statins", fills, as_of.year, 0.80)
    assert want is not None
    row = _row(html[html.index('id="adherence"'):], "statins")
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells[0] == str(as_of.year) and cells[1] == "2"
    assert cells[2] == f"{want.covered_days} / {want.period_days}"
    assert cells[3] == f"{want.pdc * 100:.0f} %"
    assert cells[4] == ("yes" if want.adherent else "no")
    refill = _row(html[html.index('id="refills"'):], "C10AA05")
    due = second + timedelta(days=30)
    assert f"<td>{second.isoformat()}</td>" in refill
    assert f"<td>{(due - timedelta(days=1)).isoformat()}</td>" in refill
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    state = "days-overdue" if due < today else "days-soon" if (due - today).days <= 7 else "days-ok"
    assert f'class="{state}">{due.isoformat()}' in refill
    assert "Days between fills" not in html
    # customer service reads the same customer without any health data
    cs = _signed_in(console_app, staff, "customer_service")
    other = cs.get(f"/console/customers/{cid}").get_data(as_text=True)
    assert 'id="adherence"' not in other and "C10AA05" not in other


def test_weekly_segment_flow_buckets_entries_and_exits(console_app, crm_population) -> None:  # type: ignore[no-untyped-def]
    from cdp.crm import reads
    from cdp.crm.models import SegmentMember

    platform = console_app.extensions["cdp"]
    weeks = [datetime(2026, 3, 2, tzinfo=UTC) + timedelta(weeks=i) for i in range(3)]
    a, b = crm_population["both"][:2]
    with platform.transaction() as s:
        s.add_all([
            SegmentMember(segment="t_seg", customer_id=a, entered_at=weeks[0] - timedelta(days=1),
                          left_at=weeks[1] + timedelta(hours=1)),  # entered before: only its exit
            SegmentMember(segment="t_seg", customer_id=b, entered_at=weeks[1],  # a week's first instant
                          left_at=None),
            SegmentMember(segment="t_seg", customer_id=a, entered_at=weeks[2] + timedelta(days=6),
                          left_at=None),
        ])
    with platform.transaction() as s:
        flow = reads.segment_flow_weekly(s, weeks)["t_seg"]
    assert flow == [{"entered": 0, "left": 0}, {"entered": 1, "left": 1}, {"entered": 1, "left": 0}]


def test_customer_service_sees_points_tier_and_open_tickets_with_their_clocks(  # type: ignore[no-untyped-def]
        console_app, staff, crm_population) -> None:
    from cdp.crm import complaints, loyalty
    from cdp.crm.settings import load_settings

    cid = crm_population["both"][0]  # marketing may open this one
    platform = console_app.extensions["cdp"]
    opened = datetime.now(UTC) - timedelta(days=3)
    with platform.transaction() as s:
        settings = load_settings(platform.policies)
        ticket = complaints.open_complaint(
            s, settings, customer_id=cid, category="adverse_drug_reaction", channel="app",
            opened_at=opened, actor="test", adr={"serious": True})
        due = ticket.regulatory_due_on
        points = loyalty.summary(s, cid)
    cs = _signed_in(console_app, staff, "customer_service")
    html = cs.get(f"/console/customers/{cid}").get_data(as_text=True)
    part = html[html.index('id="loyalty"'):]
    assert f"Points balance: {points['balance']}" in part
    tickets = html[html.index('id="tickets"'):]
    assert "adverse_drug_reaction" in tickets and due is not None and due.isoformat() in tickets
    # marketing reads the same customer, never the tickets (complaints are not in its view)
    mk = _signed_in(console_app, staff, "marketing")
    page = mk.get(f"/console/customers/{cid}")
    assert page.status_code == 200 and 'id="tickets"' not in page.get_data(as_text=True)
