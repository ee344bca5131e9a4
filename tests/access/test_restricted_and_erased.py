"""Restricted customers (DSR restriction) are served only for the purposes the policy file
names; erased customers answer 410 everywhere; revoked keys stop working within the
authentication cache's window."""

from __future__ import annotations

from sqlalchemy import select, update

from cdp.access import apikeys
from cdp.access.models import ApiKey
from cdp.audit.models import AuditEvent
from cdp.db import utcnow
from tests.access.fixtures import FULL_RECORD, PHONE_RAW, ingest

SECRETS = ("13812345678", "张三丰", "科技园", "11010519850412703X", "二甲双胍")


def _dsr(client, headers, cid: str, kind: str, approver=None) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/dsr", json={"customer_id": cid, "kind": kind}, headers=headers)
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()["id"]
    assert client.post(f"/v1/dsr/{rid}/verify", headers=headers).status_code == 200
    if approver is not None:  # four eyes (access, deletion)
        assert client.post(f"/v1/dsr/{rid}/approve", headers=approver).status_code == 200
    r = client.post(f"/v1/dsr/{rid}/execute", headers=headers)
    assert r.status_code == 200, r.get_json()


def _audits(platform, cid: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with platform.Session() as s:
        return list(s.scalars(select(AuditEvent).where(
            AuditEvent.customer_id == cid, AuditEvent.action == "customers.read"
        ).order_by(AuditEvent.id)))


def test_restricted_customer_served_only_for_compliance_purposes(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    url = f"/v1/customers/{cid}"
    support = make_api_key("customer_service", "customer_support")
    assert client.get(url, headers=support).status_code == 200  # before the restriction
    dsr = make_api_key("compliance_officer", "data_subject_request")
    _dsr(client, dsr, cid, "restriction")

    # Every everyday role and purpose is refused, with a clear code, and nothing leaks.
    for role, purpose in [("customer_service", "customer_support"), ("pharmacist", "pharmacy_care"),
                          ("pharmacist", "customer_support"), ("marketing", "marketing"),
                          ("analyst", "analytics"), ("data_steward", "customer_support")]:
        before = len(_audits(platform, cid))
        r = client.get(url, headers=make_api_key(role, purpose))
        body = r.get_data(as_text=True)
        assert r.status_code == 403, (role, purpose, body)
        assert r.get_json()["error"]["code"] == "customer_restricted"
        assert not [v for v in SECRETS if v in body]
        denied = _audits(platform, cid)[before:]
        assert [(e.decision, e.role, e.purpose, e.detail["reason"]) for e in denied] == [
            ("deny", role, purpose, "customer_restricted")]
        assert not denied[0].categories  # nothing was given
    # Break-glass does not lift a legal restriction.
    pharm = make_api_key("pharmacist", "pharmacy_care")
    g = client.post(f"{url}/break-glass", headers=pharm,
                    json={"reason": "patient on the phone with an adverse reaction", "minutes": 5})
    if g.status_code == 201:
        r = client.get(url, headers={**pharm, "X-Break-Glass": g.get_json()["grant_id"]})
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "customer_restricted"
    # A lookup by phone does not disclose that a restricted customer holds it.
    r = client.get("/v1/customers", query_string={"identifier_type": "phone", "value": PHONE_RAW},
                   headers=support)
    assert r.status_code == 200 and r.get_json()["customers"] == []

    # The purposes views.toml marks serves_restricted = true read it, audited as allowed,
    # for a role that handles data subject requests while one is open and verified for it.
    r = client.post("/v1/dsr", json={"customer_id": cid, "kind": "access"}, headers=dsr)
    access_request = r.get_json()["id"]
    assert client.post(f"/v1/dsr/{access_request}/verify", headers=dsr).status_code == 200
    for purpose in ("compliance_audit", "data_subject_request"):
        r = client.get(url, headers=make_api_key("compliance_officer", purpose))
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["status"] == "restricted" and r.get_json()["identities"]
        assert _audits(platform, cid)[-1].decision == "allow"

    client.post(f"/v1/dsr/{access_request}/refuse", json={"reason": "withdrawn"}, headers=dsr)
    # Lifting the restriction serves everyday purposes again.
    _dsr(client, dsr, cid, "lift_restriction")
    assert client.get(url, headers=support).status_code == 200


def test_restriction_purposes_come_from_the_policy_file(tmp_path, config, make_api_key) -> None:  # type: ignore[no-untyped-def]
    """Turning serves_restricted off for compliance_audit in the file closes it; no code change."""
    import shutil

    from cdp.app import create_app

    pol = tmp_path / "policies"
    shutil.copytree(config.policy_dir, pol)
    views = pol / "views.toml"
    text = views.read_text()
    views.write_text(text.replace(
        'description = "Who saw what, when and why"\nserves_restricted = true',
        'description = "Who saw what, when and why"\nserves_restricted = "false"'))
    app = create_app(config.with_overrides({"policy_dir": str(pol)}))
    client = app.test_client()
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    _dsr(client, make_api_key("compliance_officer", "data_subject_request"), cid, "restriction")
    r = client.get(f"/v1/customers/{cid}", headers=make_api_key("compliance_officer", "compliance_audit"))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "customer_restricted"


def test_erased_customer_is_gone_for_every_caller(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    dsr = make_api_key("compliance_officer", "data_subject_request")
    _dsr(client, dsr, cid, "deletion",
         approver=make_api_key("compliance_officer", "data_subject_request"))
    for role, purpose in [("customer_service", "customer_support"), ("pharmacist", "pharmacy_care"),
                          ("compliance_officer", "compliance_audit"),
                          ("compliance_officer", "data_subject_request")]:
        r = client.get(f"/v1/customers/{cid}", headers=make_api_key(role, purpose))
        assert r.status_code == 410, (role, r.get_json())
        assert r.get_json()["error"]["code"] == "customer_erased"
        assert not [v for v in SECRETS if v in r.get_data(as_text=True)]
        assert _audits(platform, cid)[-1].detail["reason"] == "customer_erased"
        # Nothing to find it by, either.
        r = client.get("/v1/customers", query_string={"identifier_type": "phone", "value": PHONE_RAW},
                       headers=make_api_key(role, purpose))
        assert r.status_code == 200 and r.get_json()["customers"] == []
    # An id that never existed stays a plain 404.
    r = client.get("/v1/customers/" + "0" * 32, headers=dsr)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_key_revoked_elsewhere_stops_working_at_once(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    """Another process revokes (a plain UPDATE, as `cdp keys revoke` in another process does,
    without touching this process's cache): the very next request is refused."""
    headers = make_api_key("customer_service", "customer_support")
    url = "/v1/customers/" + "0" * 32
    assert client.get(url, headers=headers).status_code == 404  # authenticated, then cached
    prefix = headers["Authorization"].split("_")[1]
    with platform.transaction() as s:
        s.execute(update(ApiKey).where(ApiKey.prefix == prefix).values(revoked_at=utcnow()))
    r = client.get(url, headers=headers)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "revoked_api_key"
    # And it stays refused (a refusal is never cached as a success).
    assert client.get(url, headers=headers).status_code == 401


def test_revoke_in_this_process_is_immediate(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    headers = make_api_key("customer_service", "customer_support")
    url = "/v1/customers/" + "0" * 32
    assert client.get(url, headers=headers).status_code == 404
    with platform.transaction() as s:
        apikeys.revoke_key(s, headers["Authorization"].split("_")[1])
    r = client.get(url, headers=headers)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "revoked_api_key"
