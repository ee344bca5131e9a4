"""`cdp jobs ...`: run the scheduler in the foreground, list job runs."""

from __future__ import annotations

import signal
import threading

import click
from sqlalchemy import select

from cdp.platform import Platform


def get_platform() -> Platform:
    # Imported late: cdp.cli imports this module while registering commands.
    from cdp.commandline import get_platform as _get

    return _get()


@click.group("jobs")
def jobs() -> None:
    """Scheduled work (APScheduler, database job store, one run per firing)."""


@jobs.command("start")
@click.option("--seconds", type=float, default=None, help="stop after this long (default: until SIGTERM)")
@click.option("--retry-seconds", type=int, default=60, show_default=True)
def start_cmd(seconds: float | None, retry_seconds: int) -> None:
    """Run the scheduler in this process (as many processes as you like)."""
    # What the jobs run, imported before the first firing (commands load lazily since the
    # CLI stopped importing every capability at start): a firing should not spend seconds
    # importing while the next ones are skipped as "already running".
    import cdp.audit.schedule
    import cdp.exports.runner
    import cdp.identity.view  # the export job assembles customer views (Presidio: seconds)
    import cdp.rights.retention
    import cdp.rights.service  # noqa: F401
    from cdp.jobs.scheduler import start_scheduler

    platform = get_platform()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler = start_scheduler(platform, retry_seconds=retry_seconds)
    click.echo(f"scheduler running with {len(scheduler.get_jobs())} jobs", err=True)
    try:
        stop.wait(seconds)
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=True)
        from cdp.jobs.lock import STATS

        click.echo(f"firings: ran {STATS['ran']}, skipped {STATS['skipped']} (taken elsewhere), "
                   f"retried {STATS['retried']}", err=True)


@jobs.command("runs")
@click.option("--job", default=None)
def runs_cmd(job: str | None) -> None:
    """List recent job runs (one row per firing)."""
    from cdp.jobs.models import JobRun

    with get_platform().transaction() as session:
        q = select(JobRun).order_by(JobRun.scheduled_for.desc()).limit(100)
        if job:
            q = q.where(JobRun.job == job)
        for r in session.scalars(q):
            click.echo(f"{r.job}\t{r.scheduled_for.isoformat()}\t{r.status}\tattempts={r.attempts}"
                       f"\t{r.owner}\t{r.error or ''}")
