"""The APScheduler 3 BackgroundScheduler of a service process, jobs in the platform database.

Every process may run a scheduler: the job store is shared, and each firing is executed
under the ``job_runs`` lock (cdp.jobs.lock), so it happens once, not once per process.
"""

from __future__ import annotations

import logging

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import MetaData

from cdp.cron import parse_cron
from cdp.exports.profiles import load_profiles
from cdp.jobs import tasks
from cdp.platform import Platform

log = logging.getLogger("cdp.jobs")
RETRY_SECONDS = 60


def build_scheduler(platform: Platform, retry_seconds: int = RETRY_SECONDS) -> BackgroundScheduler:
    """A scheduler with one job per scheduled export profile, the overdue-DSR job, the
    retention job and the retry sweep (not started)."""
    store = SQLAlchemyJobStore(engine=platform.engine, metadata=MetaData())
    scheduler = BackgroundScheduler(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(2)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600},
        timezone="UTC",
    )
    wanted: set[str] = set()
    for profile in load_profiles(platform.policies):
        if not profile.schedule:
            continue
        job_id = f"export:{profile.name}"
        wanted.add(job_id)
        scheduler.add_job(tasks.export_job, trigger=parse_cron(profile.schedule), id=job_id,
                          args=[profile.name, profile.schedule], replace_existing=True,
                          name=f"export {profile.name}")
    scheduler.add_job(tasks.dsr_overdue_job, "interval", minutes=15, id="dsr_overdue",
                      replace_existing=True)
    scheduler.add_job(tasks.retention_job, "cron", hour=1, minute=15, id="retention",
                      replace_existing=True)
    # CRM outputs nightly (after retention, so erased customers' data is gone first).
    scheduler.add_job(tasks.crm_refresh_job, "cron", hour=2, minute=30, id="crm_refresh",
                      replace_existing=True)
    scheduler.add_job(tasks.retry_job, "interval", seconds=retry_seconds, id="retry",
                      replace_existing=True)
    # Signed audit checkpoints, every policies/audit.toml [checkpoints] every_minutes.
    from cdp.audit.schedule import checkpoint_interval

    scheduler.add_job(tasks.audit_checkpoint_job, "interval",
                      seconds=checkpoint_interval(platform.policies).total_seconds(),
                      id="audit_checkpoint", replace_existing=True)
    wanted |= {"dsr_overdue", "retention", "retry", "audit_checkpoint", "crm_refresh"}
    scheduler._cdp_wanted = wanted
    return scheduler


def start_scheduler(platform: Platform, retry_seconds: int = RETRY_SECONDS) -> BackgroundScheduler:
    """Bind the platform for job functions and start the scheduler in the background."""
    tasks.bind(platform)
    scheduler = build_scheduler(platform, retry_seconds)
    scheduler.start()
    # Profiles removed from policies/exports lose their stored job.
    for job in scheduler.get_jobs():
        if job.id not in scheduler._cdp_wanted:
            job.remove()
    log.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
    return scheduler
