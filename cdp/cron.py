"""Cron expressions for schedules: 5 fields (crontab) or 6 with seconds first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

_DOW_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DOW_NUM = re.compile(r"(?<![/0-9])[0-7](?![0-9])")


def parse_cron(expr: str, timezone: str = "UTC") -> CronTrigger:
    """A CronTrigger for ``expr``; ValueError if it is not a valid expression."""
    if not isinstance(expr, str):
        raise ValueError("cron expression must be a string")
    parts = expr.split()
    if len(parts) == 5:
        minute, hour, day, month, dow = parts
        second = "0"
    elif len(parts) == 6:
        second, minute, hour, day, month, dow = parts
    else:
        raise ValueError("cron expression needs 5 or 6 fields")
    # APScheduler 3 counts weekdays from Monday = 0; crontab from Sunday = 0 (and 7).
    # Names mean the same to both, so numbers are translated to names.
    dow = _DOW_NUM.sub(lambda m: _DOW_NAMES[int(m.group(0))], dow) if not dow.startswith("*/") else dow
    return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                       day_of_week=dow, timezone=timezone)


def latest_fire_time(trigger: CronTrigger, now: datetime | None = None) -> datetime | None:
    """The newest fire time of ``trigger`` at or before ``now`` (looking back up to 32 days).

    Every process computes the same value for one firing, which makes it the key of the
    cross-process run lock.
    """
    now = now or datetime.now(UTC)
    # Widen the look-back until a firing is found, so frequent and rare schedules are cheap.
    for window in (timedelta(minutes=2), timedelta(hours=2), timedelta(days=2), timedelta(days=32)):
        fire = trigger.get_next_fire_time(None, now - window)
        last = None
        while fire is not None and fire <= now:
            last = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if last is not None:
            return last.astimezone(UTC)
    return None
