"""A refused request (4xx) changes nothing, and its refusal stays on record.

The handler below writes, audits one allowed act and one denied one, then refuses. After the
response: the write is gone, the "allow" entry is gone with it (the act did not happen), the
denial is in the audit log, and the hash chain still verifies. A successful request commits
everything it wrote.
"""

from __future__ import annotations

from sqlalchemy import func, select

from cdp.audit.log import AuditEntry, record
from cdp.audit.models import AuditEvent
from cdp.audit.verify import verify_log
from cdp.db import utcnow
from cdp.errors import Conflict
from cdp.http import db_session
from cdp.identity.models import Customer


def _route(app, path: str, refuse: bool) -> None:  # type: ignore[no-untyped-def]
    def view(cid: str):  # type: ignore[no-untyped-def]
        s = db_session()
        now = utcnow()
        s.add(Customer(id=cid, status="active", created_at=now, updated_at=now))
        s.flush()
        record(s, AuditEntry(actor="t", action="test.write", customer_id=cid))
        if refuse:
            record(s, AuditEntry(actor="t", action="test.write", customer_id=cid,
                                 decision="deny", reason="refused by the test"))
            raise Conflict("refused after writing", code="refused")
        return {"ok": True}

    app.add_url_rule(f"{path}/<cid>", endpoint=path, view_func=view, methods=["POST"])


def test_refused_request_rolls_back_and_keeps_the_refusal(app, client, platform) -> None:
    _route(app, "/t/refuse", refuse=True)
    _route(app, "/t/accept", refuse=False)
    r = client.post("/t/refuse/c" + "1" * 31)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "refused"
    r = client.post("/t/accept/c" + "2" * 31)
    assert r.status_code == 200

    with platform.transaction() as s:
        assert s.get(Customer, "c" + "1" * 31) is None  # the refused write is gone
        assert s.get(Customer, "c" + "2" * 31) is not None
        rows = s.execute(select(AuditEvent.customer_id, AuditEvent.decision)
                         .where(AuditEvent.action == "test.write")).all()
        assert sorted(rows) == [("c" + "1" * 31, "deny"), ("c" + "2" * 31, "allow")]
        assert s.scalar(select(func.count()).select_from(AuditEvent)) >= 2
        assert verify_log(s, platform.keyring.verify_key).ok
