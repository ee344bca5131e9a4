"""The service starts its scheduler when configured to, with a job per scheduled profile."""

from __future__ import annotations

from dataclasses import replace

from cdp.config import Config


def test_create_app_starts_the_scheduler_when_enabled(config: Config) -> None:
    from cdp.app import create_app

    app = create_app(replace(config, scheduler_enabled=True))
    sched = app.extensions["cdp_scheduler"]
    try:
        assert sched.running
        ids = {j.id for j in sched.get_jobs()}
        assert {"export:bi_weekly", "export:reco_daily", "export:research_quarterly",
                "dsr_overdue", "retention", "retry"} <= ids
        nxt = {j.id: j.next_run_time for j in sched.get_jobs()}
        assert nxt["export:bi_weekly"].weekday() == 0 and nxt["export:bi_weekly"].hour == 2
    finally:
        sched.shutdown(wait=False)
        app.extensions["cdp"].dispose()
    plain = create_app(config)
    assert "cdp_scheduler" not in plain.extensions
    plain.extensions["cdp"].dispose()
