"""A refusal reason is free text about a person: it is stored (and listed) redacted."""

from __future__ import annotations

from sqlalchemy import text

from cdp.platform import Platform
from tests.exports.data import ingest, register_sensitive
from tests.rights.test_dsr import SECRETS, _customer_of, _dsr, person_records

CALLER_PHONE = "13987654321"


def test_refusal_reason_is_redacted_at_rest(platform: Platform, client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    register_sensitive(SECRETS + [CALLER_PHONE])
    ingest(platform, person_records())
    cid = _customer_of(platform, "jd-dsr-1")
    h = make_api_key("compliance_officer", "data_subject_request")
    req = _dsr(client, h, cid, "access")
    r = client.post(f"/v1/dsr/{req['id']}/refuse", headers=h,
                    json={"reason": f"来电人手机{CALLER_PHONE}与账户不符，身份未能核实"})
    assert r.status_code == 200
    assert CALLER_PHONE not in r.get_data(as_text=True)
    assert "身份未能核实" in r.json["refused_reason"]
    with platform.engine.connect() as conn:
        stored = [str(v) for row in conn.execute(text("SELECT * FROM dsr_requests")) for v in row]
    assert not any(CALLER_PHONE in v for v in stored)
