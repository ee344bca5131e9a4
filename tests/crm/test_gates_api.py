"""Consent, purpose and small-count gates of CRM outputs, through the real HTTP API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cdp.audit.models import AuditEvent
from tests.crm.helpers import fill, ingest_records, order, otc, person, run_cli


def _recent(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).astimezone().isoformat()


def _statin_buyer(consents: dict[str, bool]) -> dict:  # type: ignore[type-arg]
    # a marketplace buyer of a statin: in marketplace_buyers (plain) and statin_users (health)
    return person([order("S1", _recent(40), [fill("C10AA05", 30), otc(50.0)]),
                   order("S2", _recent(10), [fill("C10AA05", 30)])], consents=consents)


def _setup(client, make_api_key, cli_env):  # type: ignore[no-untyped-def]
    both, marketing_only, nothing, objects = ingest_records(client, make_api_key, [
        _statin_buyer({"marketing": True, "marketing_health": True}),
        _statin_buyer({"marketing": True}),
        _statin_buyer({}),
        _statin_buyer({"marketing": True, "marketing_health": True, "profiling": False}),
    ])
    run_cli(cli_env, "crm", "refresh")
    return both, marketing_only, nothing, objects


def _members(client, headers, segment):  # type: ignore[no-untyped-def]
    r = client.get(f"/v1/crm/segments/{segment}/members", headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_marketing_gets_only_consented_members(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    both, marketing_only, nothing, objects = _setup(client, make_api_key, cli_env)
    mk = make_api_key("marketing", "marketing")
    plain = _members(client, mk, "marketplace_buyers")
    assert [m["customer_id"] for m in plain["members"]] == sorted([both, marketing_only])
    assert plain["held_back"] == 1  # no consent; the objector is in no segment at all
    health = _members(client, mk, "statin_users")
    assert [m["customer_id"] for m in health["members"]] == [both]
    assert health["held_back"] == 2
    text = json.dumps(plain) + json.dumps(health)
    assert nothing not in text and objects not in text
    # every member listed is audited, with the categories it gave
    with platform.transaction() as s:
        rows = s.execute(select(AuditEvent.customer_id, AuditEvent.categories).where(
            AuditEvent.action == "crm.segments.members", AuditEvent.customer_id.is_not(None))).all()
    assert sorted(r.customer_id for r in rows) == sorted([both, marketing_only, both])
    assert any("health" in (r.categories or []) for r in rows)


def test_profiling_objection_means_no_scores_and_no_segment(client, make_api_key, cli_env) -> None:  # type: ignore[no-untyped-def]
    both, _, _, objects = _setup(client, make_api_key, cli_env)
    mk = make_api_key("marketing", "marketing")
    r = client.get(f"/v1/customers/{objects}", headers=mk)
    assert r.status_code == 200
    crm = r.get_json()["crm"]  # the points programme stays; no scores, classes or segments
    assert set(crm) == {"loyalty"}
    ph = client.get(f"/v1/customers/{objects}", headers=make_api_key("pharmacist", "pharmacy_care"))
    assert "scores" not in ph.get_json()["crm"] and ph.get_json()["crm"]["care"]["adherence"]
    r = client.get(f"/v1/customers/{both}", headers=mk)
    assert r.status_code == 200
    scores = r.get_json()["crm"]["scores"]
    assert scores["category"] == "crm_scores" and scores["r_score"] in range(1, 6)
    assert "marketplace_buyers" in scores["segments"]
    r = client.get("/v1/crm/retention", headers=mk)
    assert objects not in r.get_data(as_text=True)


def test_marketing_needs_the_marketing_purpose(client, make_api_key, cli_env) -> None:  # type: ignore[no-untyped-def]
    _setup(client, make_api_key, cli_env)
    r = client.get("/v1/crm/segments/marketplace_buyers/members",
                   headers=make_api_key("marketing", "analytics"))
    assert r.status_code == 403
    r = client.get("/v1/crm/segments/marketplace_buyers/members", headers=make_api_key("marketing"))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "purpose_required"
    r = client.get("/v1/crm/segments/no_such/members", headers=make_api_key("marketing", "marketing"))
    assert r.status_code == 404


def test_analyst_gets_suppressed_aggregates_never_members(client, make_api_key, cli_env) -> None:  # type: ignore[no-untyped-def]
    ids = _setup(client, make_api_key, cli_env)
    an = make_api_key("analyst", "analytics")
    r = client.get("/v1/crm/segments", headers=an)
    assert r.status_code == 200
    body = r.get_json()
    assert body["min_count"] == 10
    by_name = {s["name"]: s for s in body["segments"]}
    # 2 members is below the minimum: suppressed, not shown as 2
    assert by_name["marketplace_buyers"] == {**by_name["marketplace_buyers"], "size": None,
                                             "suppressed": True}
    assert all(s["size"] is None or s["size"] >= 10 for s in body["segments"])
    r = client.get("/v1/crm/reports/retention", headers=an)
    assert r.status_code == 200
    rep = r.get_json()
    for d in list(rep["by_value_score"].values()) + list(rep["segments"].values()):
        assert all(v is None or v >= 10 for v in d.values())
    text = json.dumps(body) + json.dumps(rep)
    assert not any(cid in text for cid in ids)
    r = client.get("/v1/crm/segments/marketplace_buyers/members", headers=an)
    assert r.status_code == 403
    r = client.get("/v1/crm/retention", headers=an)
    assert r.status_code == 403


def test_customer_view_crm_section_per_role(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    both, *_ = _setup(client, make_api_key, cli_env)
    ph = client.get(f"/v1/customers/{both}", headers=make_api_key("pharmacist", "pharmacy_care"))
    crm = ph.get_json()["crm"]
    assert "scores" not in crm and "loyalty" not in crm
    [adh] = [a for a in crm["care"]["adherence"] if a["class"] == "statins"]
    assert adh["fills"] == 2 and 0 < adh["pdc"] <= 1
    assert crm["care"]["refills"][0]["atc"] == "C10AA05"
    cs = client.get(f"/v1/customers/{both}", headers=make_api_key("customer_service", "customer_support"))
    crm = cs.get_json()["crm"]
    assert "care" not in crm and "scores" not in crm
    assert crm["loyalty"]["balance"] == 50 and crm["loyalty"]["tier"] == "member"
    with platform.transaction() as s:
        views = [e.view for e in s.scalars(select(AuditEvent).where(
            AuditEvent.action == "customers.read", AuditEvent.customer_id == both,
            AuditEvent.decision == "allow"))]
    assert any(v.get("health") == "plain" for v in views)
    assert any(v.get("loyalty") == "plain" for v in views)


def test_openapi_lists_the_crm_endpoints(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/v1/openapi.json").get_json()["paths"]
    for p in ("/v1/crm/segments", "/v1/crm/segments/{name}/members", "/v1/crm/retention",
              "/v1/crm/refills", "/v1/customers/{customer_id}/loyalty",
              "/v1/customers/{customer_id}/loyalty/redeem", "/v1/crm/complaints",
              "/v1/crm/complaints/{complaint_id}/transition", "/v1/crm/reports/complaints"):
        assert p in paths, p
