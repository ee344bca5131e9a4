"""A break-glass reason is free text and may name the customer: it is stored and audited
redacted, kept as written only encrypted under the customer's data key, and the compliance
report shows the redacted text."""

from __future__ import annotations

from sqlalchemy import text

from cdp.access.breakglass import original_reason
from cdp.access.models import BreakGlassGrant
from cdp.crypto.models import DataKey
from cdp.errors import DecryptionError
from tests.access.fixtures import FULL_RECORD, ingest
from tests.logcheck import register_sensitive

PHONE = "13987654321"
NAME = "张三丰"
REASON = f"客户{NAME}来电，手机{PHONE}，称处方药配送错误，需要核实身份和订单"


def _raw_rows(platform) -> list[str]:  # type: ignore[no-untyped-def]
    """Every stored value of the grant and audit tables, as the database holds it."""
    out: list[str] = []
    with platform.engine.connect() as conn:
        for table in ("break_glass_grants", "audit_events"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                for v in row:
                    if isinstance(v, (bytes, bytearray, memoryview)):
                        out.append(bytes(v).decode("utf-8", "replace"))
                    elif v is not None:
                        out.append(str(v))
    return out


def test_reason_is_stored_redacted_and_original_encrypted(client, platform, make_api_key) -> None:  # type: ignore[no-untyped-def]
    register_sensitive([PHONE, NAME])
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    agent = make_api_key("customer_service", "customer_support")
    r = client.post(f"/v1/customers/{cid}/break-glass", json={"reason": REASON, "minutes": 10}, headers=agent)
    assert r.status_code == 201, r.get_json()
    grant_id = r.get_json()["grant_id"]

    stored = _raw_rows(platform)
    assert not any(PHONE in v or NAME in v for v in stored), "a reason value reached the database in clear"

    # Compliance reads the redacted reason: the justification survives, the values do not.
    officer = make_api_key("compliance_officer", "compliance_audit")
    report = client.get("/v1/audit/reports/break-glass", headers=officer)
    assert report.status_code == 200, report.get_json()
    [g] = [g for g in report.get_json()["grants"] if g["grant_id"] == grant_id]
    assert PHONE not in g["reason"] and NAME not in g["reason"]
    assert "配送错误" in g["reason"] and "<PHONE_NUMBER>" in g["reason"]
    assert PHONE not in report.get_data(as_text=True)

    # The reason as written is kept, readable only with the customer's data key...
    with platform.transaction() as s:
        row = s.get(BreakGlassGrant, grant_id)
        assert row.reason_ct is not None and row.data_key_id is not None
        key = s.get(DataKey, row.data_key_id)
        assert key.customer_id == cid
        assert original_reason(row, platform.keys.unwrap(key)) == REASON
    # ...so crypto-shredding the customer makes it unreadable too.
    with platform.transaction() as s:
        platform.keys.shred(s, cid)
    with platform.transaction() as s:
        row = s.get(BreakGlassGrant, grant_id)
        try:
            platform.keys.unwrap(s.get(DataKey, row.data_key_id))
        except DecryptionError:
            pass
        else:
            raise AssertionError("a shredded key still opened the break-glass reason")
