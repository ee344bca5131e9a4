"""Signed checkpoints on a schedule: the interval policy and the work of the job."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cdp.audit.archive import ensure_partitions
from cdp.audit.checkpoints import create_checkpoint, current_heads
from cdp.audit.models import AuditCheckpoint
from cdp.errors import ValidationError
from cdp.platform import Platform
from cdp.policyfiles import PolicyFiles

POLICY_FILE = "audit.toml"
DEFAULT_INTERVAL = timedelta(minutes=60)


def checkpoint_interval(policies: PolicyFiles) -> timedelta:
    """How often the scheduler signs a checkpoint (``[checkpoints] every_minutes`` in
    ``policies/audit.toml``; 60 minutes when the file is absent). Refuses a value that is
    not a positive number of minutes, naming the file and key."""
    return policies.load("audit", _build)


def _build(files: PolicyFiles) -> timedelta:
    if not files.exists(POLICY_FILE):
        return DEFAULT_INTERVAL
    data = files.document(POLICY_FILE)
    value = data.get("checkpoints", {}).get("every_minutes", DEFAULT_INTERVAL.total_seconds() / 60)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= 7 * 24 * 60
    ):
        raise ValidationError(
            f"{POLICY_FILE}: [checkpoints] every_minutes must be a number of minutes in (0, 10080]"
        )
    return timedelta(minutes=value)


def scheduled_checkpoint(platform: Platform) -> AuditCheckpoint | None:
    """Sign and store every chain's head, unless nothing was appended since the newest
    checkpoint (then None). Commits; reads no personal data, so writes no audit entry.

    On PostgreSQL it first keeps the audit log's month partitions made three months ahead
    (an insert into a month with no partition would fail, and with it the audited act)."""
    with platform.transaction() as session:
        ensure_partitions(session)
    with platform.transaction() as session:
        latest = session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
        ).first()
        heads = {str(c): [seq, h] for c, (seq, h) in sorted(current_heads(session).items())}
        if not heads or (latest is not None and latest.heads == heads):
            return None
        return create_checkpoint(session, platform.keyring.signing_key)
