"""Data subject requests through the real API: the state machine, the access package, and an
erasure that nobody can undo or see through, while kept prescriptions stay for compliance."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select, text

from cdp.crypto.models import DataKey
from cdp.db import utcnow
from cdp.identity.models import Customer, Identifier, MatchKey, SourceRecord
from cdp.platform import Platform
from cdp.rights.models import DsrRequest
from tests.exports.data import direct_values, generated_records, ingest, register_sensitive

PHONE = "+86 139 2468 1357"
NID = "110105198504127036"
EMAIL = "wang.xiuying.dsr@example.com"
NAME = "王秀英"
ADDRESS = "浙江省杭州市西湖区文三路88号5栋1单元302室"
RX_DRUG = "二甲双胍缓释片 0.5g*30片"


def person_records(tag: str = "") -> list[dict]:
    """One person across three channels: an rx sale, an app account, a complaint."""
    return [
        {"source": "jd_health", "source_record_id": f"jd-dsr-1{tag}",
         "observed_at": "2026-03-01T10:00:00+08:00",
         "identifiers": [{"type": "phone", "value": PHONE}, {"type": "national_id", "value": NID},
                         {"type": "platform_user_id", "value": f"jd_dsr_user{tag}"}],
         "profile": {"name": NAME, "gender": "female", "birth_date": "1985-04-12", "address": ADDRESS},
         "orders": [{"order_id": f"JD-DSR-1{tag}", "ordered_at": "2026-03-01T09:00:00+08:00", "total": 71.0,
                     "items": [{"sku": "SKU1", "name": RX_DRUG, "rx": True, "qty": 2, "unit_price": 35.5}]}],
         "consents": [{"purpose": "analytics", "granted": True, "at": "2026-03-01T09:00:00+08:00"}]},
        {"source": "app", "source_record_id": f"app-dsr-1{tag}", "observed_at": "2026-04-01T10:00:00+08:00",
         "identifiers": [{"type": "phone", "value": PHONE}, {"type": "email", "value": EMAIL},
                         {"type": "member_id", "value": f"M77001{tag or '0'}"}],
         "profile": {"name": NAME, "birth_date": "1985-04-12", "address": ADDRESS},
         "orders": [{"order_id": f"APP-DSR-1{tag}", "ordered_at": "2026-04-01T09:00:00+08:00", "total": 20.0,
                     "items": [{"sku": "SKU9", "name": "维生素C片", "rx": False, "qty": 1,
                                "unit_price": 20.0}]}],
         "consents": [{"purpose": "marketing", "granted": True, "at": "2026-04-01T09:00:00+08:00"}]},
        {"source": "call_center", "source_record_id": f"cc-dsr-1{tag}",
         "observed_at": "2026-05-01T10:00:00+08:00",
         "identifiers": [{"type": "phone", "value": PHONE}],
         "profile": {"name": "王女士"},
         "interactions": [{"kind": "complaint", "at": "2026-05-01T10:00:00+08:00",
                           "text": f"客户{NAME}来电投诉配送延迟，联系电话{PHONE}。"}]},
    ]


SECRETS = [PHONE, "13924681357", NID, EMAIL, NAME, ADDRESS, "jd_dsr_user", "M770010"]


def _customer_of(platform: Platform, source_record_id: str) -> str:
    with platform.Session() as s:
        return s.scalar(select(SourceRecord.customer_id).where(
            SourceRecord.source_record_id == source_record_id))


def _keys(make_api_key):  # type: ignore[no-untyped-def]
    return {
        "dsr": make_api_key("compliance_officer", "data_subject_request"),
        # A second officer: access and erasure requests need four eyes.
        "second": make_api_key("compliance_officer", "data_subject_request"),
        "audit": make_api_key("compliance_officer", "compliance_audit"),
    }


def _approve(client, headers, dsr_id: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post(f"/v1/dsr/{dsr_id}/approve", headers=headers)
    assert r.status_code == 200, r.json


def _download(client, dsr_id: str, token: str, fmt: str = "json"):  # type: ignore[no-untyped-def]
    return client.post(f"/v1/dsr/{dsr_id}/package", json={"token": token, "format": fmt})


def _dsr(client, headers, cid: str, kind: str, **extra):  # type: ignore[no-untyped-def]
    r = client.post("/v1/dsr", json={"customer_id": cid, "kind": kind, **extra}, headers=headers)
    assert r.status_code == 201, r.json
    return r.json


def test_state_machine_deadlines_and_refusal(platform: Platform, client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    register_sensitive(SECRETS)
    ingest(platform, person_records())
    cid = _customer_of(platform, "jd-dsr-1")
    h = _keys(make_api_key)["dsr"]
    req = _dsr(client, h, cid, "access")
    assert req["status"] == "received"
    assert req["due_at"] > req["received_at"] and not req["overdue"]
    # Cannot execute before verification; cannot jump states; refusal needs a reason.
    assert client.post(f"/v1/dsr/{req['id']}/execute", headers=h).status_code == 409
    assert client.post(f"/v1/dsr/{req['id']}/refuse", json={}, headers=h).status_code == 422
    bad = client.post(f"/v1/dsr/{req['id']}/refuse", json={"reason": "identity not proven"}, headers=h)
    assert bad.json["status"] == "refused" and bad.json["refused_reason"] == "identity not proven"
    assert client.post(f"/v1/dsr/{req['id']}/verify", headers=h).status_code == 409
    # Bad input is a 4xx, never a 500; other roles and purposes are refused.
    assert client.post("/v1/dsr", json={"customer_id": cid, "kind": "nope"}, headers=h).status_code == 422
    json_h = {**h, "Content-Type": "application/json"}
    assert client.post("/v1/dsr", data="[1]", headers=json_h).status_code == 422
    unknown = {"customer_id": "x" * 40, "kind": "access"}
    assert client.post("/v1/dsr", json=unknown, headers=h).status_code == 404
    cs = make_api_key("customer_service", "data_subject_request")
    assert client.post("/v1/dsr", json={"customer_id": cid, "kind": "access"}, headers=cs).status_code == 403
    auditor = make_api_key("compliance_officer", "compliance_audit")
    assert client.get("/v1/dsr", headers=auditor).status_code == 403
    # The overdue job flags open requests past their deadline, once.
    late = _dsr(client, h, cid, "restriction")
    with platform.transaction() as s:
        s.get(DsrRequest, late["id"]).due_at = utcnow() - timedelta(days=1)
    from cdp.rights.service import flag_overdue

    with platform.transaction() as s:
        assert flag_overdue(s) == 1
    with platform.transaction() as s:
        assert flag_overdue(s) == 0
    listed = client.get("/v1/dsr?overdue=1", headers=h).json["requests"]
    assert [r["id"] for r in listed] == [late["id"]]


def test_access_package_is_complete_json_and_csv(platform: Platform, client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    register_sensitive(SECRETS)
    ingest(platform, person_records())
    cid = _customer_of(platform, "jd-dsr-1")
    h = _keys(make_api_key)["dsr"]
    # Someone read the customer: that access must show in the package.
    cs = make_api_key("customer_service", "customer_support")
    assert client.get(f"/v1/customers/{cid}", headers=cs).status_code == 200
    req = _dsr(client, h, cid, "access")
    client.post(f"/v1/dsr/{req['id']}/verify", json={"method": "id_card_photo"}, headers=h)
    _approve(client, _keys(make_api_key)["second"], req["id"])
    r = client.post(f"/v1/dsr/{req['id']}/execute", headers=h)
    assert r.status_code == 200 and r.json["request"]["status"] == "completed"
    assert "package" not in r.json  # sealed for the subject, not handed to the officer
    pkg = _download(client, req["id"], r.json["delivery"]["token"]).json
    assert [c["source"] for c in pkg["channels"]] == ["app", "call_center", "jd_health"]
    blob = json.dumps(pkg, ensure_ascii=False)
    for v in (NID, EMAIL.lower(), NAME, ADDRESS, RX_DRUG, "配送延迟"):
        assert v in blob
    assert any(a["action"].startswith("customer") and a["role"] == "customer_service"
               for a in pkg["accesses"])
    assert {c["purpose"] for c in pkg["data"]["consents"]} == {"analytics", "marketing"}
    # CSV: same content, one row per value, with its channel.
    req2 = _dsr(client, h, cid, "access")
    client.post(f"/v1/dsr/{req2['id']}/verify", headers=h)
    _approve(client, _keys(make_api_key)["second"], req2["id"])
    token = client.post(f"/v1/dsr/{req2['id']}/execute", headers=h).json["delivery"]["token"]
    r = _download(client, req2["id"], token, "csv")
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"  # the charset once
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert any(row["value"] == NID and row["source"] == "jd_health" for row in rows)
    assert any(row["section"] == "accesses" for row in rows)
    assert any(row["value"] == RX_DRUG and row["category"] == "health" for row in rows)


def test_restriction_consent_withdrawal_and_correction(platform: Platform, client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    register_sensitive(SECRETS)
    ingest(platform, person_records())
    cid = _customer_of(platform, "jd-dsr-1")
    h = _keys(make_api_key)["dsr"]
    mk = make_api_key("marketing", "marketing")
    assert client.get(f"/v1/customers/{cid}", headers=mk).status_code == 200
    w = _dsr(client, h, cid, "consent_withdrawal", purposes=["marketing"])
    client.post(f"/v1/dsr/{w['id']}/verify", headers=h)
    assert client.post(f"/v1/dsr/{w['id']}/execute", headers=h).json["result"] == {"withdrawn": ["marketing"]}
    # The access layer sees the withdrawal at once.
    assert client.get(f"/v1/customers/{cid}", headers=mk).status_code == 403
    # Correction: the new value reaches the customer's record, the old value stays in lineage.
    c = _dsr(client, h, cid, "correction")
    client.post(f"/v1/dsr/{c['id']}/verify", headers=h)
    bad_phone = {"changes": {"phone": "1"}}
    assert client.post(f"/v1/dsr/{c['id']}/execute", json=bad_phone, headers=h).status_code == 422
    assert client.post(f"/v1/dsr/{c['id']}/execute", json={"changes": {"birth_date": "1985-13-40"}},
                       headers=h).status_code == 422
    r = client.post(f"/v1/dsr/{c['id']}/execute", json={"changes": {"birth_date": "1985-04-21"}}, headers=h)
    assert r.status_code == 200, r.json
    from cdp.identity.view import assemble_customer

    with platform.Session() as s:
        view = assemble_customer(s, platform, cid)
    bd = view["profile"]["birth_date"]
    assert bd["value"] == "1985-04-21"
    assert {v["value"] for v in bd["values"]} == {"1985-04-21"}  # the wrong value is gone
    assert any(i["source"] == "dsr_correction" for i in view["identities"])
    assert r.json["result"]["records_corrected"] == 2
    # Restriction: out of every export at once; lifted again by a request.
    res = _dsr(client, h, cid, "restriction")
    client.post(f"/v1/dsr/{res['id']}/verify", headers=h)
    client.post(f"/v1/dsr/{res['id']}/execute", headers=h)
    with platform.Session() as s:
        assert s.get(Customer, cid).status == "restricted"
    from cdp.exports.runner import run_export

    assert run_export(platform, "bi_weekly").rows == 0


def test_deletion_leaves_nothing_readable_but_kept_rx_for_compliance(
        platform: Platform, client, make_api_key, cli_env: dict) -> None:  # type: ignore[no-untyped-def]
    others = generated_records(40, 9)
    register_sensitive(SECRETS + sorted(direct_values(others)))
    ingest(platform, others + person_records())
    cid = _customer_of(platform, "jd-dsr-1")
    assert cid == _customer_of(platform, "cc-dsr-1")  # one person, three channels
    keys = _keys(make_api_key)
    h = keys["dsr"]
    req = _dsr(client, h, cid, "deletion")
    client.post(f"/v1/dsr/{req['id']}/verify", headers=h)
    _approve(client, keys["second"], req["id"])
    r = client.post(f"/v1/dsr/{req['id']}/execute", headers=h)
    assert r.status_code == 200 and r.json["request"]["status"] == "completed"
    assert r.json["result"]["retained"] == 1 and r.json["result"]["keys_shredded"] >= 1

    # Every role, every purpose, every read endpoint: nothing of the person.
    for role, purpose in [("customer_service", "customer_support"), ("pharmacist", "pharmacy_care"),
                          ("marketing", "marketing"), ("analyst", "analytics"),
                          ("data_steward", "customer_support"), ("compliance_officer", "compliance_audit"),
                          ("compliance_officer", "data_subject_request")]:
        hh = make_api_key(role, purpose)
        for url in (f"/v1/customers/{cid}", f"/v1/customers?identifier_type=phone&value={PHONE}",
                    f"/v1/customers?identifier_type=national_id&value={NID}",
                    f"/v1/customers?identifier_type=email&value={EMAIL}"):
            resp = client.get(url, headers=hh)
            assert resp.status_code < 500
            body = resp.get_data(as_text=True)
            assert not [v for v in SECRETS + [RX_DRUG] if v in body], (role, url)
        assert client.get(f"/v1/retained/{cid}", headers=hh).status_code in (403, 404) or \
            (role, purpose) == ("compliance_officer", "compliance_audit")
    # Not through a new access request either.
    assert client.post("/v1/dsr", json={"customer_id": cid, "kind": "access"}, headers=h).status_code == 409
    # Nothing left to find it by: no blind indexes, no match keys, no live data key.
    with platform.Session() as s:
        assert s.scalar(select(Identifier).where(Identifier.customer_id == cid)) is None
        assert s.scalar(select(MatchKey).where(MatchKey.customer_id == cid)) is None
        assert s.scalar(select(SourceRecord).where(SourceRecord.customer_id == cid)) is None
        assert all(k.wrapped is None for k in s.scalars(select(DataKey).where(DataKey.customer_id == cid)))
        assert s.get(Customer, cid).status == "erased"
    # Exports and the CLI: nothing.
    from cdp.cli import cli
    from cdp.exports.runner import run_export

    for prof in ("bi_weekly", "research_quarterly"):
        res = run_export(platform, prof)
        for f in res.directory.iterdir():
            data = f.read_bytes().decode("utf-8", "replace")
            assert not [v for v in SECRETS if v in data]
    links = CliRunner().invoke(cli, ["identity", "links"], env=cli_env)
    assert links.exit_code == 0 and cid not in links.stdout and "jd-dsr-1" not in links.stdout
    # The kept prescription: compliance roles only, for the audit purpose, and audited.
    kept = client.get(f"/v1/retained/{cid}", headers=keys["audit"])
    assert kept.status_code == 200
    rec = kept.json["records"][0]["record"]
    assert rec["buyer"]["identifiers"][0]["value"] == NID
    assert rec["prescriptions"][0]["items"][0]["name"] == RX_DRUG
    assert client.get(f"/v1/retained/{cid}", headers=keys["dsr"]).status_code == 403
    # At rest it is ciphertext: the database holds no plaintext of it.
    with platform.Session() as s:
        dump = s.execute(text("SELECT payload_ct, wrapped_key FROM retained_records")).all()
    assert dump and all(NID.encode() not in bytes(p) and NAME.encode() not in bytes(p) for p, _ in dump)

    # The same person comes back: a new customer, nothing of the old one.
    ingest(platform, person_records("-again"))
    new_cid = _customer_of(platform, "jd-dsr-1-again")
    assert new_cid and new_cid != cid
    from cdp.identity.view import assemble_customer

    with platform.Session() as s:
        view = assemble_customer(s, platform, new_cid)
        assert s.get(Customer, cid).status == "erased"
        assert assemble_customer(s, platform, cid)["identities"] == []
    assert {i["source_record_id"] for i in view["identities"]} == {
        "jd-dsr-1-again", "app-dsr-1-again", "cc-dsr-1-again"}
    assert [o["order_id"] for o in view["prescriptions"]] == ["JD-DSR-1-again"]
    assert len(client.get(f"/v1/retained/{new_cid}", headers=keys["audit"]).json.get("records", [])) == 0


def test_retention_job_purges_what_outlived_its_purpose(platform: Platform, cli_env: dict) -> None:
    register_sensitive(SECRETS)
    ingest(platform, person_records())
    cid = _customer_of(platform, "jd-dsr-1")
    from cdp.rights.retention import run_retention

    # Nothing is due today.
    out = run_retention(platform, actor="test")
    assert out["customers_erased"] == 0 and out["retained_records_purged"] == 0
    # Six years later: the person is inactive (erased, rx kept until 5 years after the sale),
    # their complaint is deleted; two more years: the kept rx record goes too.
    later = utcnow() + timedelta(days=365 * 6)
    from cdp.rights.erasure import read_retained

    out = run_retention(platform, actor="test", now=later - timedelta(days=365 * 2))
    # 4 years later: the complaint (3 years) goes, the customer (5 years) stays.
    assert out["customers_erased"] == 0 and out["interactions_deleted"] == 1
    out = run_retention(platform, actor="test", now=later)
    assert out["customers_erased"] == 1
    with platform.Session() as s:
        assert s.get(Customer, cid).status == "erased"
        # The sale was in 2026-03: kept until 2031-03, which is before `later`, so not kept.
        assert read_retained(s, platform, cid) == []
    # A kept record of an erasure today is purged once its five years have passed.
    ingest(platform, person_records("-b"))
    other = _customer_of(platform, "jd-dsr-1-b")
    from cdp.rights.erasure import erase_customer

    with platform.transaction() as s:
        assert erase_customer(s, platform, other, rx_keep=timedelta(days=1827), actor="test").retained == 1
    assert run_retention(platform, actor="test")["retained_records_purged"] == 0
    assert run_retention(platform, actor="test", now=later)["retained_records_purged"] == 1
    with platform.Session() as s:
        assert read_retained(s, platform, other) == []
    from cdp.cli import cli

    res = CliRunner().invoke(cli, ["retention", "run"], env=cli_env)
    assert res.exit_code == 0 and json.loads(res.stdout)["customers_erased"] == 0
