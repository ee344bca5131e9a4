"""The nightly CRM refresh: a scheduler job that runs once per firing under the lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from cdp.crm.models import CrmProfile
from cdp.jobs import tasks
from cdp.jobs.models import JobRun
from cdp.jobs.scheduler import build_scheduler
from tests.crm.helpers import ingest_records, order, otc, person


def test_nightly_refresh_runs_once_per_firing(client, make_api_key, platform) -> None:  # type: ignore[no-untyped-def]
    ingest_records(client, make_api_key, [
        person([order("J1", (datetime.now(UTC) - timedelta(days=2)).isoformat(), [otc(10.0)])])])
    sched = build_scheduler(platform)
    assert "crm_refresh" in {j.id for j in sched.get_jobs()} | sched._cdp_wanted  # type: ignore[attr-defined]
    tasks.bind(platform)
    try:
        tasks.crm_refresh_job()
        tasks.crm_refresh_job()  # a second process at the same firing: skipped
    finally:
        tasks.bind(None)
    with platform.transaction() as s:
        runs = s.execute(select(JobRun.job, JobRun.status)).all()
        profiles = s.scalar(select(func.count()).select_from(CrmProfile))
    assert runs == [("crm_refresh", "succeeded")]
    assert profiles == 1
