"""Defect 14 (issue 18): a client chose the request id kept in the audit log, so it could
reuse another request's id (or write its own text there). The server now makes every
request id; a client's correlation id is kept apart, length- and charset-limited."""

from __future__ import annotations

import re

from sqlalchemy import select

from cdp.audit.models import AuditEvent
from tests.access.fixtures import FULL_RECORD, ingest


def _reads(platform, cid: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with platform.Session() as s:
        return list(s.scalars(select(AuditEvent).where(
            AuditEvent.customer_id == cid, AuditEvent.action == "customers.read"
        ).order_by(AuditEvent.id)))


def test_a_client_cannot_choose_the_audited_request_id(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    agent = make_api_key("customer_service", "customer_support")
    url = f"/v1/customers/{cid}"
    first = client.get(url, headers={**agent, "X-Request-Id": "victim-request-0001"})
    second = client.get(url, headers={**agent, "X-Request-Id": "victim-request-0001"})
    assert first.status_code == second.status_code == 200
    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert ids[0] != ids[1] and "victim-request-0001" not in ids
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    entries = _reads(platform, cid)
    assert [e.request_id for e in entries] == ids
    # The client's id is kept, as what it is: the client's correlation id.
    assert [e.detail["correlation_id"] for e in entries] == ["victim-request-0001"] * 2
    assert first.headers["X-Correlation-Id"] == "victim-request-0001"


def test_a_correlation_id_is_length_and_charset_limited(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    agent = make_api_key("customer_service", "customer_support")
    url = f"/v1/customers/{cid}"
    ok = client.get(url, headers={**agent, "X-Correlation-Id": "trace-7f3a.span:01"})
    assert ok.headers["X-Correlation-Id"] == "trace-7f3a.span:01"
    for bad in ("x" * 65, "张三 13812345678", "a b", "../../etc", ""):
        r = client.get(url, headers={**agent, "X-Correlation-Id": bad})
        assert r.status_code == 200
        assert "X-Correlation-Id" not in r.headers
    entries = _reads(platform, cid)
    assert [e.detail.get("correlation_id") for e in entries] == ["trace-7f3a.span:01"] + [None] * 5
