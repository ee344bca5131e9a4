"""Defects 1, 11 and 12 of issue 18, from the attacker's side: a stated purpose that is not
backed by anything (a restriction lifted by saying "data_subject_request", a break-glass
grant reused under another purpose) and a search on a till placeholder."""

from __future__ import annotations

import copy

from sqlalchemy import select

from cdp.audit.models import AuditEvent
from tests.access.fixtures import FULL_RECORD, ingest, record_variant

SECRETS = ("13812345678", "张三丰", "科技园", "11010519850412703X")


def _dsr(client, headers, cid: str, kind: str, *, execute: bool = True) -> str:  # type: ignore[no-untyped-def]
    r = client.post("/v1/dsr", json={"customer_id": cid, "kind": kind}, headers=headers)
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()["id"]
    assert client.post(f"/v1/dsr/{rid}/verify", headers=headers).status_code == 200
    if execute:
        r = client.post(f"/v1/dsr/{rid}/execute", headers=headers)
        assert r.status_code == 200, r.get_json()
    return rid


def _restricted_customer(client, make_api_key) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    officer = make_api_key("compliance_officer", "data_subject_request")
    _dsr(client, officer, cid, "restriction")
    return cid, officer


def test_a_restriction_is_not_lifted_by_stating_the_dsr_purpose(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    cid, officer = _restricted_customer(client, make_api_key)
    url = f"/v1/customers/{cid}"
    # Customer service may state data_subject_request (policy.csv), but handles no request.
    agent = make_api_key("customer_service", "data_subject_request")
    for _ in range(2):
        r = client.get(url, headers=agent)
        body = r.get_data(as_text=True)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "customer_restricted"
        assert not [v for v in SECRETS if v in body]
        # The refusal names no purpose that would have worked.
        assert "data_subject_request" not in body and "compliance_audit" not in body
    # Nor with an open request for this customer: customer service does not handle them.
    _dsr(client, officer, cid, "access", execute=False)
    assert client.get(url, headers=agent).status_code == 403
    with platform.Session() as s:
        denied = list(s.scalars(select(AuditEvent).where(
            AuditEvent.customer_id == cid, AuditEvent.action == "customers.read",
            AuditEvent.role == "customer_service")))
    assert [e.decision for e in denied] == ["deny"] * 3
    assert {e.detail["reason"] for e in denied} == {"customer_restricted"}


def test_the_dsr_purpose_serves_a_restricted_customer_only_with_an_open_verified_request(  # type: ignore[no-untyped-def]
    client, make_api_key
) -> None:
    cid, officer = _restricted_customer(client, make_api_key)
    url = f"/v1/customers/{cid}"
    # The restriction request itself is completed: nothing is open for this customer.
    assert client.get(url, headers=officer).status_code == 403
    # A request received but not verified (anyone can file one) does not open it either.
    r = client.post("/v1/dsr", json={"customer_id": cid, "kind": "access"}, headers=officer)
    rid = r.get_json()["id"]
    assert client.get(url, headers=officer).status_code == 403
    # An open request for another customer does not either.
    [other] = ingest(client, make_api_key("ingest_service"), [record_variant("bp-2", 2, [])])
    _dsr(client, officer, other, "access", execute=False)
    assert client.get(url, headers=officer).status_code == 403
    # Verified: the officer handling it reads the restricted customer, for that purpose only.
    assert client.post(f"/v1/dsr/{rid}/verify", headers=officer).status_code == 200
    r = client.get(url, headers=officer)
    assert r.status_code == 200 and r.get_json()["status"] == "restricted"
    # Refused (closed): the restriction holds again.
    r = client.post(f"/v1/dsr/{rid}/refuse", json={"reason": "identity not confirmed"},
                    headers=officer)
    assert r.status_code == 200
    assert client.get(url, headers=officer).status_code == 403


def test_a_break_glass_grant_serves_only_the_purpose_it_was_opened_for(client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    url = f"/v1/customers/{cid}"
    agent = make_api_key("customer_service", "customer_support")
    g = client.post(f"{url}/break-glass", headers=agent,
                    json={"reason": "caller verified, needs full phone to confirm", "minutes": 5})
    assert g.status_code == 201, g.get_json()
    grant = g.get_json()["grant_id"]
    r = client.get(url, headers={**agent, "X-Break-Glass": grant})
    assert r.status_code == 200 and "13812345678" in r.get_data(as_text=True)
    # The same key and grant, another purpose the role may state: refused, nothing plain.
    other = {**agent, "X-Purpose-Of-Use": "data_subject_request", "X-Break-Glass": grant}
    r = client.get(url, headers=other)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "break_glass_invalid"
    assert "13812345678" not in r.get_data(as_text=True)


def test_a_till_placeholder_phone_is_not_searchable(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    # Two unrelated customers whose till records carry the placeholder 13800138000.
    a = copy.deepcopy(record_variant("pos-1", 1, []))
    b = copy.deepcopy(record_variant("pos-2", 2, []))
    for rec in (a, b):
        rec["source"] = "store_pos"
        rec["identifiers"].append({"type": "phone", "value": "13800138000"})
    ingest(client, make_api_key("ingest_service"), [a, b])
    agent = make_api_key("customer_service", "customer_support")
    for typed in ("13800138000", "+86 138 0013 8000"):
        r = client.get("/v1/customers", headers=agent,
                       query_string={"identifier_type": "phone", "value": typed})
        assert r.status_code == 422, r.get_json()
        assert r.get_json()["error"]["code"] == "blocked_identifier"
        assert "customers" not in r.get_json() and "李四" not in r.get_data(as_text=True)
    # Any value listed in identity.toml [blocked] too, not only the all-same-digit ones.
    r = client.get("/v1/customers", headers=agent,
                   query_string={"identifier_type": "email", "value": "Test@Test.com"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "blocked_identifier"
    with platform.Session() as s:
        refused = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "customers.lookup")))
    assert [(e.decision, e.detail["reason"], e.detail["identifier_type"]) for e in refused] == [
        ("deny", "blocked_identifier", "phone"), ("deny", "blocked_identifier", "phone"),
        ("deny", "blocked_identifier", "email")]
    # The refusal is audited without the value searched.
    assert not [e for e in refused if "13800138000" in str(e.detail)]
