"""Refusals: each is a clear 4xx, leaks nothing, and is in the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from cdp.access.apikeys import create_key, revoke_key
from cdp.access.models import BreakGlassGrant
from cdp.audit.models import AuditEvent
from cdp.db import utcnow
from tests.access.fixtures import FULL_RECORD, ingest

SECRETS = ("13812345678", "张三丰", "科技园", "11010519850412703X")


@pytest.fixture
def customer(client, make_api_key) -> str:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    return cid


def _last_audit(platform):  # type: ignore[no-untyped-def]
    with platform.transaction() as s:
        return s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()


def _assert_refused(r, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == code and err["message"]
    text = r.get_data(as_text=True) + str(dict(r.headers))
    assert not any(s in text for s in SECRETS)


def test_unknown_malformed_and_revoked_keys(client, platform, customer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cdp.access import ratelimit

    monkeypatch.setattr(ratelimit, "DENIAL_WINDOW_SECONDS", 3600)  # no window ends mid-test
    url = f"/v1/customers/{customer}"
    purpose = {"X-Purpose-Of-Use": "customer_support"}
    _assert_refused(client.get(url, headers=purpose), 401, "missing_api_key")
    e = _last_audit(platform)
    # Failed authentications are audited per client address, in aggregate (1, 10, 100, ...).
    assert (e.actor, e.action, e.decision) == ("anonymous", "auth.denied", "deny")
    assert e.detail["reason"] == "missing_api_key" and e.detail["denied_in_window"] == 1
    assert e.detail["client"] == "127.0.0.1"
    _assert_refused(
        client.get(url, headers={**purpose, "Authorization": "Bearer cdp_abc123_nope"}),
        401,
        "invalid_api_key",
    )
    # The second denial in the window is counted, not written; never under the named key.
    assert _last_audit(platform).id == e.id
    with platform.transaction() as s:
        row, key = create_key(s, "customer_service")
        revoke_key(s, row.prefix)
    _assert_refused(
        client.get(url, headers={**purpose, "Authorization": f"Bearer {key}"}),
        401,
        "revoked_api_key",
    )
    # A revoked key presented with its secret is its holder's act: on record under the key.
    e = _last_audit(platform)
    assert e.actor == f"apikey:{row.prefix}" and e.detail["reason"] == "revoked_api_key"
    assert (e.customer_id, e.action) == (customer, "customers.read")


def test_missing_unknown_and_forbidden_purpose(client, platform, customer, make_api_key) -> None:  # type: ignore[no-untyped-def]
    headers = make_api_key("pharmacist")
    url = f"/v1/customers/{customer}"
    r = client.get(url, headers=headers)
    _assert_refused(r, 400, "purpose_required")
    # No menu of the purposes that would work.
    assert "pharmacy_care" not in r.get_json()["error"]["message"]
    assert _last_audit(platform).detail == {"reason": "purpose_required"}
    _assert_refused(
        client.get(url, headers={**headers, "X-Purpose-Of-Use": "curiosity"}),
        400,
        "unknown_purpose",
    )
    r = client.get(url, headers={**headers, "X-Purpose-Of-Use": "marketing"})
    _assert_refused(r, 403, "purpose_not_permitted")
    e = _last_audit(platform)
    assert (e.role, e.purpose, e.decision, e.customer_id) == (
        "pharmacist",
        "marketing",
        "deny",
        customer,
    )
    _assert_refused(
        client.get(url, headers=make_api_key("admin", "customer_support")), 403, "forbidden"
    )


def test_break_glass_grants_plain_then_expires(client, platform, customer, make_api_key) -> None:  # type: ignore[no-untyped-def]
    headers = make_api_key("customer_service", "customer_support")
    url = f"/v1/customers/{customer}"
    assert "13812345678" not in client.get(url, headers=headers).get_data(as_text=True)
    # No reason, no glass.
    r = client.post(f"{url}/break-glass", json={"reason": "because"}, headers=headers)
    _assert_refused(r, 422, "invalid")
    r = client.post(
        f"{url}/break-glass",
        json={"reason": "Customer locked out; verifying identity by phone callback", "minutes": 15},
        headers=headers,
    )
    assert r.status_code == 201, r.get_json()
    grant = r.get_json()
    e = _last_audit(platform)
    assert e.action == "customers.break_glass" and e.reason.startswith("Customer locked out")
    assert e.view["contact"] == "plain"
    r = client.get(url, headers={**headers, "X-Break-Glass": grant["grant_id"]})
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "+8613812345678" in text and "11010519850412703X" in text
    assert "二甲双胍" not in text  # break-glass lifts only the categories the policy lists
    e = _last_audit(platform)
    assert e.detail["break_glass"] == grant["grant_id"] and e.view["contact"] == "plain"
    # Another key cannot use the grant.
    other = make_api_key("customer_service", "customer_support")
    _assert_refused(
        client.get(url, headers={**other, "X-Break-Glass": grant["grant_id"]}),
        403,
        "break_glass_invalid",
    )
    # Expired: refused, audited, nothing shown.
    with platform.transaction() as s:
        s.execute(update(BreakGlassGrant).values(expires_at=utcnow() - timedelta(seconds=1)))
    _assert_refused(
        client.get(url, headers={**headers, "X-Break-Glass": grant["grant_id"]}),
        403,
        "break_glass_expired",
    )
    e = _last_audit(platform)
    assert (e.decision, e.detail["reason"], e.customer_id) == (
        "deny",
        "break_glass_expired",
        customer,
    )
    # Roles without break-glass in policy cannot ask.
    r = client.post(
        f"{url}/break-glass",
        json={"reason": "I would really like to see everything"},
        headers=make_api_key("marketing", "marketing"),
    )
    assert r.status_code == 403


def test_unknown_customer_is_404_and_audited(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/customers/" + "0" * 32, headers=make_api_key("pharmacist", "pharmacy_care"))
    _assert_refused(r, 404, "not_found")
    assert _last_audit(platform).detail == {"reason": "not_found"}
