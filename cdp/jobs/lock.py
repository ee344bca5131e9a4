"""The cross-process run lock: one ``job_runs`` row per (job, scheduled time).

Every process that fires a job tries to insert the row; the unique key lets exactly one
succeed and the others skip. A run whose process died (its heartbeat went stale) or that
failed is taken over by a compare-and-set update, so it is retried exactly once at a time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cdp.db import utcnow
from cdp.db.results import affected_rows
from cdp.jobs.models import JobRun
from cdp.platform import Platform

log = logging.getLogger("cdp.jobs")
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 3
# What this process did with the firings it saw (reported by `cdp jobs start` on exit).
STATS: Counter[str] = Counter()


def lease_for(platform: Platform) -> timedelta:
    """How long a silent run keeps its claim (config extra ``job_lease_seconds``)."""
    seconds = platform.config.extra.get("job_lease_seconds")
    return timedelta(seconds=float(seconds)) if seconds is not None else LEASE


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:128]


@dataclass
class Claim:
    run_id: int
    job: str
    scheduled_for: datetime
    attempt: int

    @property
    def takeover(self) -> bool:
        return self.attempt > 1


def claim(platform: Platform, job: str, scheduled_for: datetime,
          lease: timedelta | None = None, max_attempts: int = MAX_ATTEMPTS) -> Claim | None:
    """Claim the run of ``job`` at ``scheduled_for``; None when another process has it,
    it already succeeded, or it has used up its attempts."""
    lease = lease or lease_for(platform)
    now = utcnow()
    try:
        with platform.transaction() as session:
            row = JobRun(job=job, scheduled_for=scheduled_for, status="running",
                         owner=owner_id(), attempts=1, started_at=now, heartbeat_at=now)
            session.add(row)
            session.flush()
            return Claim(row.id, job, scheduled_for, 1)
    except IntegrityError:
        pass
    return _take_over(platform, job, scheduled_for, lease, max_attempts)


def _take_over(platform: Platform, job: str, scheduled_for: datetime, lease: timedelta,
               max_attempts: int) -> Claim | None:
    now = utcnow()
    with platform.transaction() as session:
        row = session.scalar(select(JobRun).where(JobRun.job == job,
                                                  JobRun.scheduled_for == scheduled_for))
        if row is None or row.attempts >= max_attempts:
            return None
        stale = row.status == "running" and row.heartbeat_at < now - lease
        if not (row.status == "failed" or stale):
            return None
        # Compare-and-set on what we read: if another process took it over first, 0 rows.
        res = session.execute(
            update(JobRun)
            .where(JobRun.id == row.id, JobRun.status == row.status,
                   JobRun.attempts == row.attempts, JobRun.heartbeat_at == row.heartbeat_at)
            .values(status="running", owner=owner_id(), attempts=row.attempts + 1,
                    heartbeat_at=now, error=None, finished_at=None)
            .execution_options(synchronize_session=False)
        )
        if affected_rows(res) != 1:
            return None
        return Claim(row.id, job, scheduled_for, row.attempts + 1)


def finish(platform: Platform, claim_: Claim, error: BaseException | None = None) -> None:
    with platform.transaction() as session:
        row = session.get(JobRun, claim_.run_id)
        if row is None:
            return
        row.status = "failed" if error is not None else "succeeded"
        # The type only: exception messages can carry values.
        row.error = type(error).__name__ if error is not None else None
        row.finished_at = utcnow()


def _heartbeat(platform: Platform, run_id: int, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            with platform.transaction() as session:
                session.execute(update(JobRun).where(JobRun.id == run_id, JobRun.status == "running")
                                .values(heartbeat_at=utcnow()))
        except Exception as exc:  # a missed beat only risks a takeover after the lease
            log.warning("heartbeat failed: %s", type(exc).__name__)


@contextmanager
def held(platform: Platform, claim_: Claim, lease: timedelta | None = None) -> Iterator[Claim]:
    """Keep the claim's heartbeat fresh while the body runs; record success or failure."""
    lease = lease or lease_for(platform)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(platform, claim_.run_id, stop,
                                                     max(lease.total_seconds() / 3, 0.5)),
                            daemon=True)
    beat.start()
    try:
        yield claim_
    except BaseException as exc:
        stop.set()
        beat.join()
        finish(platform, claim_, exc)
        raise
    stop.set()
    beat.join()
    finish(platform, claim_)


def run_once(platform: Platform, job: str, scheduled_for: datetime,
             body: Callable[[Claim], object], lease: timedelta | None = None) -> bool:
    """Run ``body`` for this firing unless another process has it. True if it ran here."""
    c = claim(platform, job, scheduled_for, lease)
    if c is None:
        STATS["skipped"] += 1
        log.info("job %s at %s: taken elsewhere or done", job, scheduled_for.isoformat())
        return False
    STATS["ran"] += 1
    with held(platform, c, lease):
        body(c)
    return True


def retryable(platform: Platform, lease: timedelta | None = None,
              max_attempts: int = MAX_ATTEMPTS) -> list[tuple[str, datetime]]:
    """(job, scheduled_for) of runs that failed or whose process died, with attempts left."""
    cutoff = utcnow() - (lease or lease_for(platform))
    with platform.Session() as session:
        rows = session.execute(
            select(JobRun.job, JobRun.scheduled_for, JobRun.status, JobRun.heartbeat_at)
            .where(JobRun.attempts < max_attempts, JobRun.status.in_(("failed", "running")))
        ).all()
        session.rollback()
    return [(j, s) for j, s, st, hb in rows if st == "failed" or hb < cutoff]
