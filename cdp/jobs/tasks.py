"""The functions APScheduler calls (by module path, so the job store can pickle them).

Each finds the platform of its process, computes the firing it belongs to, and runs the
work under the cross-process lock, so several service processes run each firing once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cdp.cron import latest_fire_time, parse_cron
from cdp.jobs import lock
from cdp.platform import Platform

log = logging.getLogger("cdp.jobs")
_platform: Platform | None = None


def bind(platform: Platform | None) -> None:
    """Make ``platform`` the one scheduled jobs in this process use."""
    global _platform
    _platform = platform


def _p() -> Platform:
    if _platform is None:
        raise RuntimeError("no platform bound for scheduled jobs")
    return _platform


def _floor(now: datetime, every: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + ((now - epoch) // every) * every


# -- the work of each job, by job name -----------------------------------------------------
def _export_work(profile: str) -> Callable[[lock.Claim], object]:
    def work(c: lock.Claim) -> object:
        from cdp.exports.profiles import load_profile
        from cdp.exports.runner import abandon_running, run_export

        platform = _p()
        if c.takeover:
            abandon_running(platform, profile)
        prof = load_profile(platform.policies, profile)
        return run_export(platform, profile, mode=prof.schedule_mode, actor="scheduler")

    return work


def _dsr_overdue_work(_c: lock.Claim) -> object:
    from cdp.rights.service import flag_overdue

    platform = _p()
    with platform.transaction() as session:
        return flag_overdue(session, actor="scheduler")


def _retention_work(_c: lock.Claim) -> object:
    from cdp.rights.retention import run_retention

    return run_retention(_p(), actor="scheduler")


def _audit_checkpoint_work(_c: lock.Claim) -> object:
    from cdp.audit.schedule import scheduled_checkpoint

    return scheduled_checkpoint(_p())


def _crm_refresh_work(_c: lock.Claim) -> object:
    from cdp.crm.refresh import refresh

    platform = _p()
    with platform.transaction() as session:
        return refresh(session, platform, actor="scheduler").customers


def work_for(job: str) -> Callable[[lock.Claim], object] | None:
    kind, _, arg = job.partition(":")
    if kind == "export" and arg:
        return _export_work(arg)
    if job == "dsr_overdue":
        return _dsr_overdue_work
    if job == "retention":
        return _retention_work
    if job == "audit_checkpoint":
        return _audit_checkpoint_work
    if job == "crm_refresh":
        return _crm_refresh_work
    return None


# -- entry points called by APScheduler ----------------------------------------------------
def export_job(profile: str, cron: str) -> None:
    fire = latest_fire_time(parse_cron(cron)) or datetime.now(UTC).replace(microsecond=0)
    lock.run_once(_p(), f"export:{profile}", fire, _export_work(profile))


def dsr_overdue_job() -> None:
    fire = _floor(datetime.now(UTC), timedelta(minutes=15))
    lock.run_once(_p(), "dsr_overdue", fire, _dsr_overdue_work)


def retention_job() -> None:
    fire = _floor(datetime.now(UTC), timedelta(days=1))
    lock.run_once(_p(), "retention", fire, _retention_work)


def audit_checkpoint_job() -> None:
    from cdp.audit.schedule import checkpoint_interval

    every = checkpoint_interval(_p().policies)
    fire = _floor(datetime.now(UTC), every)
    lock.run_once(_p(), "audit_checkpoint", fire, _audit_checkpoint_work)


def crm_refresh_job() -> None:
    fire = _floor(datetime.now(UTC), timedelta(days=1))
    lock.run_once(_p(), "crm_refresh", fire, _crm_refresh_work)


def retry_job() -> None:
    """Retry firings that failed or whose process died (each under the same lock)."""
    platform = _p()
    for job, scheduled_for in lock.retryable(platform):
        work = work_for(job)
        if work is None:
            continue
        c = lock.claim(platform, job, scheduled_for)
        if c is None:
            continue
        lock.STATS["retried"] += 1
        log.info("retrying job %s (attempt %d)", job, c.attempt)
        try:
            with lock.held(platform, c):
                work(c)
        except Exception as exc:  # recorded on the row; the next sweep tries again
            log.error("retry of job %s failed: %s", job, type(exc).__name__)
