"""A steward's merge and split through the API are audited with the caller's actor, role and
request id, so compliance can tie each identity change to the request that made it."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from cdp.audit.models import AuditEvent
from tests.access.fixtures import ingest, record_variant
from tests.logcheck import register_sensitive

PHONE = "13987654321"
NAME = "张三丰"


def _entries(platform, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with platform.Session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_merge_and_split_audit_carry_the_api_caller(client, platform, make_api_key, cli_env) -> None:  # type: ignore[no-untyped-def]
    register_sensitive([PHONE, NAME])
    a, b = ingest(client, make_api_key("ingest_service"),
                  [record_variant("sta-1", 1, []), record_variant("sta-2", 2, [])])
    steward = make_api_key("data_steward")
    prefix = steward["Authorization"].split()[1].split("_")[1]
    reason = f"客户{NAME}来电{PHONE}确认两个账号是同一人"
    r = client.post(f"/v1/customers/{a}/merge", json={"other_customer_id": b, "reason": reason},
                    headers={**steward, "X-Request-Id": "req-merge-0001"})
    assert r.status_code == 200, r.get_json()
    merges = _entries(platform, "identity.merge")
    assert {e.customer_id for e in merges} == {a, b}
    for e in merges:
        # The request id is the server's; the client's id is kept beside it.
        assert (e.actor, e.role, e.request_id) == (f"apikey:{prefix}", "data_steward",
                                                   r.headers["X-Request-Id"])
        assert e.detail["correlation_id"] == "req-merge-0001"

    r = client.post(f"/v1/customers/{a}/split", json={"record_ids": ["sta-2"], "reason": "different people"},
                    headers={**steward, "X-Request-Id": "req-split-0002"})
    assert r.status_code == 200, r.get_json()
    new = r.get_json()["customer_id"]
    splits = _entries(platform, "identity.split")
    assert {e.customer_id for e in splits} == {a, new}
    for e in splits:
        assert (e.actor, e.role, e.request_id) == (f"apikey:{prefix}", "data_steward",
                                                   r.headers["X-Request-Id"])
        assert e.detail["correlation_id"] == "req-split-0002"

    # The steward's free-text reason is kept in the lineage redacted.
    from cdp.identity.models import LineageEvent

    with platform.Session() as s:
        reasons = [e.reason for e in s.scalars(select(LineageEvent).where(LineageEvent.reason.is_not(None)))]
    assert len(reasons) == 2 and not any(PHONE in x or NAME in x for x in reasons)
    assert any("<PHONE_NUMBER>" in x for x in reasons)

    # The CLI names its own actor (no API key, no request).
    from cdp.cli import cli

    out = CliRunner().invoke(cli, ["identity", "merge", a, new, "--reason", "checked by phone",
                                   "--actor", "cli:alice"], env=cli_env)
    assert out.exit_code == 0, out.output
    last = _entries(platform, "identity.merge")[-2:]
    assert {e.actor for e in last} == {"cli:alice"} and {e.customer_id for e in last} == {a, new}
