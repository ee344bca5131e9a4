"""Lookup by identifier, stewardship endpoints, the generated OpenAPI document, rate limits."""

from __future__ import annotations

import uuid

import pytest
import redis
from sqlalchemy import func, select

from cdp.audit.models import AuditEvent
from tests.access.fixtures import FULL_RECORD, ingest, record_variant


def test_lookup_normalises_like_ingest(client, make_api_key, platform) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    headers = make_api_key("customer_service", "customer_support")
    for typed in ("13812345678", "+86 138-1234-5678", "008613812345678"):
        r = client.get(
            "/v1/customers",
            query_string={"identifier_type": "phone", "value": typed},
            headers=headers,
        )
        assert r.status_code == 200, r.get_json()
        [found] = r.get_json()["customers"]
        assert found["customer_id"] == cid
        assert "138****5678" in r.get_data(as_text=True) and "13812345678" not in r.get_data(
            as_text=True
        )
    r = client.get(
        "/v1/customers",
        query_string={"identifier_type": "email", "value": "  ZHANGSF@example.COM"},
        headers=headers,
    )
    assert [c["customer_id"] for c in r.get_json()["customers"]] == [cid]
    scoped = {"identifier_type": "platform_user_id", "value": "jd_a8k2x9q7"}
    r = client.get("/v1/customers", query_string={**scoped, "source": "jd_health"}, headers=headers)
    assert [c["customer_id"] for c in r.get_json()["customers"]] == [cid]
    r = client.get(
        "/v1/customers", query_string={**scoped, "source": "ali_health"}, headers=headers
    )
    assert r.get_json()["customers"] == []
    r = client.get(
        "/v1/customers",
        query_string={"identifier_type": "phone", "value": "13900001111"},
        headers=headers,
    )
    assert r.status_code == 200 and r.get_json() == {"customers": [], "truncated": False}
    for bad in (
        {"identifier_type": "shoe_size", "value": "42"},
        {"identifier_type": "phone"},
        {"identifier_type": "phone", "value": "138****5678"},
        {"identifier_type": "email", "value": "not-an-email-zhangsf"},
        {"identifier_type": "phone", "value": "x" * 300},
    ):
        r = client.get("/v1/customers", query_string=bad, headers=headers)
        assert r.status_code == 422, r.get_json()
        # The error names the problem, never the value sent.
        if "value" in bad and len(bad["value"]) > 3:
            assert bad["value"][:8] not in r.get_data(as_text=True)
    with platform.transaction() as s:
        reads = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "customers.read", AuditEvent.customer_id == cid)
        )
    assert reads == 5


def test_steward_merge_and_split_through_http(client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    a, b = ingest(
        client,
        make_api_key("ingest_service"),
        [record_variant("st-1", 1, []), record_variant("st-2", 2, [])],
    )
    steward = make_api_key("data_steward")
    assert (
        client.post(
            f"/v1/customers/{a}/merge",
            json={"other_customer_id": b, "reason": "same person per call"},
            headers=make_api_key("pharmacist"),
        ).status_code
        == 403
    )
    r = client.post(
        f"/v1/customers/{a}/merge",
        json={"other_customer_id": b, "reason": "same person per call"},
        headers=steward,
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"customer_id": a, "action": "merge"}
    view = client.get(
        f"/v1/customers/{a}", headers={**steward, "X-Purpose-Of-Use": "customer_support"}
    ).get_json()
    assert {i["source_record_id"] for i in view["identities"]} == {"st-1", "st-2"}
    r = client.post(
        f"/v1/customers/{a}/split",
        json={"record_ids": ["st-2"], "reason": "different people"},
        headers=steward,
    )
    assert r.status_code == 200, r.get_json()
    new = r.get_json()["customer_id"]
    assert new not in (a, b)
    assert (
        client.post(
            f"/v1/customers/{a}/split", json={"record_ids": []}, headers=steward
        ).status_code
        == 422
    )


def test_openapi_is_generated_from_the_routes(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    op = doc["paths"]["/v1/customers/{customer_id}"]["get"]
    assert op["summary"].startswith("The unified customer view")
    header = next(p for p in op["parameters"] if p["name"] == "X-Purpose-Of-Use")
    assert header["required"] and "pharmacy_care" in header["schema"]["enum"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CustomerOut"
    )
    assert "identities" in doc["components"]["schemas"]["CustomerOut"]["properties"]
    lookup = doc["paths"]["/v1/customers"]["get"]["parameters"]
    assert {"identifier_type", "value"} <= {p["name"] for p in lookup if p["in"] == "query"}
    # Other capabilities' routes are listed too, without anyone writing them down.
    assert "/v1/records" in doc["paths"] and "/v1/audit/events" in doc["paths"]


def _limited_app(config, storage: str):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from cdp.app import create_app

    return create_app(replace(config, ratelimit_storage_uri=storage, ratelimit_default="3/hour"))


def test_rate_limit_per_key_in_memory(config, make_api_key) -> None:  # type: ignore[no-untyped-def]
    app = _limited_app(config, "memory://")
    client = app.test_client()
    a, b = make_api_key("pharmacist", "pharmacy_care"), make_api_key("pharmacist", "pharmacy_care")
    responses = [client.get("/v1/customers/" + "0" * 32, headers=a) for _ in range(4)]
    assert [r.status_code for r in responses] == [404, 404, 404, 429]
    # One storage call per request: no X-RateLimit-* headers on answered requests; a
    # refusal says which limit and when to retry.
    assert not [k for k, _ in responses[0].headers.items() if k.lower().startswith("x-ratelimit")]
    refused = responses[-1]
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2 * 3600
    assert int(refused.headers["X-RateLimit-Reset"]) > 0
    r = client.get("/v1/customers/" + "0" * 32, headers=a)
    assert r.get_json()["error"]["code"] == "too_many_requests"
    assert client.get("/v1/customers/" + "0" * 32, headers=b).status_code == 404  # per key
    app.extensions["cdp"].dispose()


def test_rate_limit_shared_across_workers_through_redis(config, make_api_key) -> None:  # type: ignore[no-untyped-def]
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis not reachable on 6379")
    # A fresh logical key space per run so parallel runs do not share counters.
    storage = "redis://127.0.0.1:6379/15"
    worker_a, worker_b = _limited_app(config, storage), _limited_app(config, storage)
    headers = make_api_key("pharmacist", "pharmacy_care")
    headers["X-Request-Id"] = uuid.uuid4().hex
    url = "/v1/customers/" + "0" * 32
    codes = [
        worker_a.test_client().get(url, headers=headers).status_code,
        worker_b.test_client().get(url, headers=headers).status_code,
        worker_a.test_client().get(url, headers=headers).status_code,
        worker_b.test_client().get(url, headers=headers).status_code,
    ]
    # With memory:// each worker would allow 3: together they would allow 6. (An hour's
    # window: a minute's could roll over between the requests on a slow machine.)
    assert codes == [404, 404, 404, 429]
    refused = worker_a.test_client().get(url, headers=headers)
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2 * 3600
    for app in (worker_a, worker_b):
        app.extensions["cdp"].dispose()
