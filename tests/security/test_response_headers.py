"""Defect 16 (issue 18), the headers: responses carrying personal data were cacheable and
sniffable. Every API response now says ``Cache-Control: no-store`` and ``nosniff``."""

from __future__ import annotations

from tests.access.fixtures import FULL_RECORD, PHONE_RAW, ingest


def test_personal_data_responses_are_neither_stored_nor_sniffed(client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    agent = make_api_key("customer_service", "customer_support")
    responses = {
        "read": client.get(f"/v1/customers/{cid}", headers=agent),
        "lookup": client.get("/v1/customers", headers=agent,
                             query_string={"identifier_type": "phone", "value": PHONE_RAW}),
        "refusal": client.get(f"/v1/customers/{cid}", headers=make_api_key("marketing", "analytics")),
        "not found": client.get("/v1/customers/" + "0" * 32, headers=agent),
        "audit": client.get("/v1/audit/events", query_string={"customer_id": cid},
                            headers=make_api_key("compliance_officer", "compliance_audit")),
    }
    assert responses["read"].status_code == responses["lookup"].status_code == 200
    assert responses["audit"].status_code == 200
    for name, r in responses.items():
        assert r.headers.get("Cache-Control") == "no-store", name
        assert r.headers.get("X-Content-Type-Options") == "nosniff", name
    # The public API description may be cached, and is not sniffed either.
    doc = client.get("/v1/openapi.json")
    assert doc.headers.get("Cache-Control") != "no-store"
    assert doc.headers["X-Content-Type-Options"] == "nosniff"
