"""Care-team follow-up: new chronic patients and low adherence, only with care_reminders
consent; completed through the API with an outcome, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cdp.audit.models import AuditEvent
from tests.crm.helpers import fill, ingest_records, order, person, run_cli


def test_follow_up_tasks(client, make_api_key, cli_env, platform) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    first = now - timedelta(days=20)
    orders = [order("F1", first.isoformat(), [fill("A10BA02", 30)])]
    consented, silent = ingest_records(client, make_api_key, [
        person(orders, consents={"care_reminders": True}), person(orders)])
    run_cli(cli_env, "crm", "refresh")
    run_cli(cli_env, "crm", "refresh")  # no second task for the same patient and class
    ph = make_api_key("pharmacist", "pharmacy_care")
    r = client.get("/v1/crm/care-tasks", headers=ph)
    assert r.status_code == 200
    tasks = r.get_json()["tasks"]
    assert [(t["customer_id"], t["kind"], t["detail"]) for t in tasks] == [
        (consented, "new_chronic", {"class": "diabetes"})]
    assert silent not in r.get_data(as_text=True)
    tid = tasks[0]["id"]
    r = client.post(f"/v1/crm/care-tasks/{tid}/complete", headers=ph, json={"outcome": "maybe"})
    assert r.status_code == 422
    r = client.post(f"/v1/crm/care-tasks/{tid}/complete", headers=ph, json={"outcome": "reached"})
    assert r.status_code == 200 and r.get_json()["status"] == "done"
    r = client.post(f"/v1/crm/care-tasks/{tid}/complete", headers=ph, json={"outcome": "reached"})
    assert r.status_code == 409
    assert client.get("/v1/crm/care-tasks", headers=ph).get_json()["tasks"] == []
    r = client.get("/v1/crm/care-tasks", headers=make_api_key("customer_service", "customer_support"))
    assert r.status_code == 403
    with platform.transaction() as s:
        done = s.scalars(select(AuditEvent).where(AuditEvent.action == "crm.care_tasks.complete")).one()
    assert done.customer_id == consented and done.detail["outcome"] == "reached"
