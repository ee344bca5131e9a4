"""The scheduler signs checkpoints on its own, once per firing, so a cut tail is caught
without anyone remembering to run `cdp audit checkpoint`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cdp.audit.models import AuditCheckpoint
from cdp.audit.schedule import checkpoint_interval, scheduled_checkpoint
from cdp.audit.verify import verify_log
from cdp.errors import ValidationError
from cdp.jobs import tasks
from cdp.jobs.models import JobRun
from cdp.platform import Platform
from cdp.policyfiles import PolicyFiles
from tests.audit.helpers import tamper, write_entries
from tests.conftest import POLICY_DIR


def test_checkpoint_job_signs_once_per_firing_and_protects_the_tail(platform: Platform) -> None:
    write_entries(platform, 6, per_tx=6)
    tasks.bind(platform)
    try:
        tasks.audit_checkpoint_job()
        tasks.audit_checkpoint_job()  # a second process firing the same slot
    finally:
        tasks.bind(None)
    with platform.Session() as s:
        runs = [(r.job, r.status, r.attempts) for r in s.scalars(select(JobRun))]
        cps = list(s.scalars(select(AuditCheckpoint)))
    assert runs == [("audit_checkpoint", "succeeded", 1)]
    assert len(cps) == 1 and cps[0].entry_count == 6
    # Nothing new since: the next firing signs nothing.
    assert scheduled_checkpoint(platform) is None
    # The attack the schedule exists for: the two newest entries removed by the owner.
    tamper(platform, "DELETE FROM audit_events WHERE seq >= 5")
    with platform.transaction() as s:
        res = verify_log(s, platform.keyring.verify_key)
    assert not res.ok and "removed from the tail" in res.summary()


def test_interval_comes_from_the_policy_file(platform: Platform, tmp_path: Path) -> None:
    from cdp.jobs.scheduler import build_scheduler

    assert checkpoint_interval(PolicyFiles(POLICY_DIR)).total_seconds() == 3600
    sched = build_scheduler(platform)
    job = sched.get_job("audit_checkpoint")
    assert job is not None and job.trigger.interval.total_seconds() == 3600

    (tmp_path / "audit.toml").write_text("[checkpoints]\nevery_minutes = 5\n")
    assert checkpoint_interval(PolicyFiles(tmp_path)).total_seconds() == 300
    (tmp_path / "audit.toml").write_text("[checkpoints]\nevery_minutes = 0\n")
    with pytest.raises(ValidationError, match="every_minutes"):
        checkpoint_interval(PolicyFiles(tmp_path))
    other = Platform(replace(platform.config, policy_dir=str(tmp_path)))
    try:
        with pytest.raises(ValidationError, match="every_minutes"):
            build_scheduler(other)
    finally:
        other.dispose()


def test_checkpoint_skipped_on_an_empty_log(platform: Platform) -> None:
    assert scheduled_checkpoint(platform) is None
    with platform.Session() as s:
        assert s.scalar(select(func.count()).select_from(AuditCheckpoint)) == 0
