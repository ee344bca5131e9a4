"""The run lock: each firing runs once across processes, failed or crashed runs are retried,
and a crash part-way through an export leaves nothing a recipient can see."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cdp.exports.models import ExportRun
from cdp.jobs import lock, tasks
from cdp.jobs.models import JobRun
from cdp.platform import Platform
from tests.conftest import POLICY_DIR
from tests.exports.data import REPO, generated_records, ingest

FIRE = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def test_a_firing_is_claimed_once_and_done_once(platform: Platform) -> None:
    first = lock.claim(platform, "export:x", FIRE)
    assert first is not None and first.attempt == 1
    assert lock.claim(platform, "export:x", FIRE) is None  # another process: skip
    assert lock.claim(platform, "export:x", FIRE + timedelta(days=7)) is not None  # next firing
    lock.finish(platform, first)
    assert lock.claim(platform, "export:x", FIRE) is None  # done: never again


def test_failed_run_is_retried_until_attempts_run_out(platform: Platform) -> None:
    calls = []

    def boom(c: lock.Claim) -> None:
        calls.append(c.attempt)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        lock.run_once(platform, "job", FIRE, boom)
    with platform.Session() as s:
        row = s.scalar(select(JobRun))
        assert row.status == "failed" and row.error == "RuntimeError"
    for _ in range(lock.MAX_ATTEMPTS - 1):
        c = lock.claim(platform, "job", FIRE)
        assert c is not None and c.takeover
        lock.finish(platform, c, RuntimeError())
    assert lock.claim(platform, "job", FIRE) is None
    assert lock.retryable(platform) == []


def test_stale_running_claim_is_taken_over_once(platform: Platform) -> None:
    c = lock.claim(platform, "job", FIRE)
    assert c is not None
    # Still within the lease: the owner may be alive.
    assert lock.claim(platform, "job", FIRE) is None
    short = timedelta(seconds=1)
    time.sleep(1.1)
    assert lock.retryable(platform, short) == [("job", FIRE)]
    again = lock.claim(platform, "job", FIRE, lease=short)
    assert again is not None and again.attempt == 2
    assert lock.claim(platform, "job", FIRE, lease=short) is None  # its heartbeat is fresh


CRASH_SCRIPT = textwrap.dedent("""
    import os, sys
    from datetime import datetime, UTC
    from cdp.config import Config
    from cdp.platform import Platform
    from cdp.jobs import lock
    from cdp.exports.runner import run_export

    platform = Platform(Config.from_env())
    fire = datetime.fromisoformat(sys.argv[1])
    c = lock.claim(platform, "export:bi_weekly", fire)
    def die(n):
        if n == 5:
            os._exit(9)   # the process dies part-way: no cleanup, no except blocks
    with lock.held(platform, c):
        run_export(platform, "bi_weekly", actor="scheduler", on_row=die)
""")


def test_export_crash_leaves_nothing_visible_and_is_retried(
        platform: Platform, cli_env: dict, client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    ingest(platform, generated_records(60, 5))
    fire = datetime.now(UTC).replace(microsecond=0)
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, fire.isoformat()], check=False, cwd=REPO,
                          env=cli_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr[-2000:]
    root = Path(platform.config.export_dir) / "bi_weekly"
    assert [d.name for d in root.iterdir() if not d.name.startswith(".tmp-")] == []
    with platform.transaction() as s:
        from cdp.access.apikeys import create_key

        _, key = create_key(s, "export_service", "bi_team")
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/exports/runs", headers=headers).json["runs"] == []

    # The retry sweep of any service process picks it up once the lease has lapsed.
    retry_platform = Platform(replace(platform.config, extra={"job_lease_seconds": 0.01}))
    try:
        time.sleep(0.05)
        tasks.bind(retry_platform)
        tasks.retry_job()
    finally:
        tasks.bind(None)
        retry_platform.dispose()
    with platform.Session() as s:
        job = s.scalar(select(JobRun).where(JobRun.job == "export:bi_weekly"))
        assert job.status == "succeeded" and job.attempts == 2
        statuses = sorted(s.scalars(select(ExportRun.status)))
    assert statuses == ["failed", "succeeded"]
    assert not [d for d in root.iterdir() if d.name.startswith(".tmp-")]
    runs = client.get("/v1/exports/runs", headers=headers).json["runs"]
    assert len(runs) == 1 and runs[0]["rows"] > 0


def test_in_process_failure_marks_run_failed_and_publishes_nothing(platform: Platform) -> None:
    from cdp.exports.runner import run_export

    ingest(platform, generated_records(60, 5))

    def fail(n: int) -> None:
        if n == 3:
            raise OSError("no space left on device")

    with pytest.raises(OSError):
        run_export(platform, "bi_weekly", on_row=fail)
    root = Path(platform.config.export_dir) / "bi_weekly"
    assert list(root.iterdir()) == []
    with platform.Session() as s:
        run = s.scalar(select(ExportRun))
        assert run.status == "failed" and run.error == "OSError" and run.directory is None


TICK_PROFILE = """
recipient = "bi_team"
purpose = "analytics"
formats = ["csv"]
schedule = "*/2 * * * * *"
schedule_mode = "full"
k = 2
[[fields]]
name = "customer"
source = "customer_id"
transform = "pseudonym"
[[fields]]
source = "gender"
transform = "keep"
quasi_identifier = true
"""


def test_two_scheduler_processes_run_each_firing_exactly_once(
        platform: Platform, cli_env: dict, tmp_path: Path) -> None:
    ingest(platform, generated_records(20, 2))
    policies = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, policies)
    for p in (policies / "exports").glob("*.toml"):
        p.unlink()
    (policies / "exports" / "tick.toml").write_text(TICK_PROFILE)
    env = dict(cli_env, CDP_POLICY_DIR=str(policies))
    # Long enough that both processes, started together, share several firings even when one
    # of them is slow to start on a loaded machine.
    cmd = [str(Path(sys.executable).parent / "cdp"), "jobs", "start", "--seconds", "12"]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    ran = skipped = 0
    for _, err in outs:
        line = next(ln for ln in err.splitlines() if ln.startswith("firings:"))
        ran += int(line.split("ran ")[1].split(",")[0])
        skipped += int(line.split("skipped ")[1].split(" ")[0])
    with platform.Session() as s:
        firings = list(s.scalars(select(JobRun).where(JobRun.job == "export:tick")))
        exports = s.scalar(select(func.count()).select_from(ExportRun).where(ExportRun.profile == "tick"))
    assert len(firings) >= 2
    assert all(f.status == "succeeded" for f in firings)
    # Exactly once: one export per firing, although both processes fired every one.
    assert exports == len(firings) == ran
    assert skipped >= 1
    dirs = [d for d in (Path(platform.config.export_dir) / "tick").iterdir()]
    assert len(dirs) == exports


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))


def test_crontab_weekdays_mean_what_crontab_means() -> None:
    from cdp.cron import latest_fire_time, parse_cron

    start = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday
    for expr, weekday in (("0 2 * * 1", "Mon"), ("0 0 * * 0", "Sun"), ("0 0 * * 7", "Sun"),
                          ("0 9 * * 1-5", "Mon"), ("0 1 * * sat", "Sat")):
        nxt = parse_cron(expr).get_next_fire_time(None, start + timedelta(hours=13))
        assert nxt.strftime("%a") == weekday, expr
    # Every process agrees on which firing "now" belongs to.
    trig = parse_cron("0 2 * * 1")
    assert latest_fire_time(trig, start) == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert latest_fire_time(parse_cron("*/2 * * * * *"), start.replace(second=5)) == start.replace(second=4)
    with pytest.raises(ValueError):
        parse_cron("61 * * * *")


def test_overdue_and_retention_jobs_run_once_per_firing(platform: Platform) -> None:
    from cdp.audit.models import AuditEvent

    tasks.bind(platform)
    try:
        tasks.dsr_overdue_job()
        tasks.dsr_overdue_job()  # a second process firing the same slot
        tasks.retention_job()
        tasks.retention_job()
    finally:
        tasks.bind(None)
    with platform.Session() as s:
        runs = {(r.job, r.status, r.attempts) for r in s.scalars(select(JobRun))}
        audited = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("retention.%"))))
    assert runs == {("dsr_overdue", "succeeded", 1), ("retention", "succeeded", 1)}
    # One retention pass: each rule audited once.
    assert sorted(audited) == sorted(set(audited)) and "retention.purge_retained" in audited
