"""Defect 18 (issue 18): the OpenAPI document left fuzzers and clients blind: no request
bodies for records and DSRs, identifier_type as any string, 201/429/503 undocumented, the
checkpoint's status wrong, the public document marked as needing a key."""

from __future__ import annotations

from typing import Any

from cdp.identity.normalize import KNOWN_TYPES


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def test_request_bodies_and_enums_are_documented(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/v1/openapi.json").get_json()
    records = doc["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/json"]
    batch = _resolve(doc, records["schema"])
    assert batch["type"] == "array" and batch["maxItems"] == 1000 and batch["minItems"] == 1
    record = _resolve(doc, batch["items"])
    assert {"source", "source_record_id"} <= set(record["required"])
    dsr = doc["paths"]["/v1/dsr"]["post"]["requestBody"]["content"]["application/json"]
    dsr_schema = _resolve(doc, dsr["schema"])
    assert set(dsr_schema["properties"]["kind"]["enum"]) == {
        "access", "correction", "deletion", "restriction", "lift_restriction",
        "consent_withdrawal"}
    lookup = doc["paths"]["/v1/customers"]["get"]["parameters"]
    [itype] = [p for p in lookup if p["name"] == "identifier_type"]
    assert sorted(itype["schema"]["enum"]) == sorted(KNOWN_TYPES)


def test_status_codes_are_documented_as_answered(client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/v1/openapi.json").get_json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert {"429", "503"} <= set(op["responses"]), (method, path)
    assert "201" in doc["paths"]["/v1/customers/{customer_id}/break-glass"]["post"]["responses"]
    assert "201" in doc["paths"]["/v1/dsr"]["post"]["responses"]
    checkpoint = doc["paths"]["/v1/audit/checkpoints"]["post"]["responses"]
    assert "201" in checkpoint and "200" not in checkpoint
    r = client.post("/v1/audit/checkpoints", headers=make_api_key("admin"))
    assert r.status_code == 201, r.get_json()
    # A method the path does not have: 405 naming the ones it has (RFC 9110).
    r = client.put("/v1/audit/checkpoints", headers=make_api_key("admin"))
    assert r.status_code == 405 and "POST" in r.headers["Allow"]


def test_the_public_document_needs_no_key_and_says_so(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["paths"]["/v1/openapi.json"]["get"]["security"] == []
    assert doc["paths"]["/v1/customers/{customer_id}"]["get"]["security"] == [{"apiKey": []}]
