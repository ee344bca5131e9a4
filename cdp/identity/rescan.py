"""Re-scan stored free text with the current engine and rewrite its redacted copies.

Interactions keep the original note encrypted (``text_ct``) and the storage redaction,
encrypted too (``text_redacted_ct``), which is what views and exports serve. When the
recognizers improve, the stored redactions still carry what the old engine missed;
:func:`rescan_interactions` opens each original, redacts it under the ``storage`` operator set
with the engine of this process, and replaces the redacted copy and its entity types.

Work goes in batches ordered by interaction id. Each batch is one transaction that also
writes an audit entry (``pii.rescan.batch``: the ids read and rewritten, counts, the last id;
never text). A run that stops part-way resumes after the last committed batch: the next run
reads where the newest ``pii.rescan.batch`` entry ended, unless a ``pii.rescan.done`` entry
came after it. Notes whose data key was destroyed (an erased customer) are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.audit.log import AuditEntry, record
from cdp.audit.models import AuditEvent
from cdp.crypto import fields
from cdp.db import new_id
from cdp.identity.models import Interaction
from cdp.pii.policy import load_policy
from cdp.pii.redact import apply_operators
from cdp.pii.scan import scan_texts

STORAGE_POLICY = "storage"
BATCH_ACTION = "pii.rescan.batch"
DONE_ACTION = "pii.rescan.done"


@dataclass
class RescanProgress:
    """Where a run is: its id, the last interaction id committed, and counts so far."""

    run_id: str
    after: str | None = None
    read: int = 0
    changed: int = 0
    skipped: int = 0
    resumed: bool = False
    batches: list[int] = field(default_factory=list)


def resume_point(session: Session) -> tuple[str, str | None, dict[str, int]] | None:
    """``(run_id, last id, counts)`` of an unfinished run, or None when the newest rescan
    entry in the audit log says the last run finished (or there was none)."""
    row = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_((BATCH_ACTION, DONE_ACTION)))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(1)
    ).first()
    if row is None or row.action == DONE_ACTION:
        return None
    d = row.detail or {}
    counts = {k: int(d.get(f"total_{k}", 0)) for k in ("read", "changed", "skipped")}
    return str(d.get("run")), d.get("after"), counts


def rescan_batch(session: Session, platform: Any, progress: RescanProgress, *,
                 batch_size: int, actor: str) -> int:
    """Rescan the next ``batch_size`` interactions after ``progress.after``; flushes and
    audits, never commits. Returns how many rows were read (0 at the end)."""
    q = select(Interaction).order_by(Interaction.id).limit(batch_size)
    if progress.after is not None:
        q = q.where(Interaction.id > progress.after)
    rows = list(session.scalars(q))
    if not rows:
        return 0
    storage = load_policy(STORAGE_POLICY, platform.policies)
    deks = platform.keys.load(session, {r.data_key_id for r in rows})
    readable = [r for r in rows if r.data_key_id in deks]
    texts = [
        fields.decrypt(deks[r.data_key_id], r.text_ct,
                       fields.field_aad("interactions", "text_ct", r.id)).decode()
        for r in readable
    ]
    changed: list[str] = []
    customers: set[str] = set()
    for row, text, found in zip(readable, texts,
                                scan_texts(texts, min_score=storage.threshold_for), strict=True):
        redacted = apply_operators(text, found, storage, None)
        types = sorted({e.type for e in found})
        aad = fields.field_aad("interactions", "text_redacted_ct", row.id)
        old = (fields.decrypt(deks[row.data_key_id], row.text_redacted_ct, aad).decode()
               if row.text_redacted_ct is not None else None)
        customers.add(row.customer_id)
        if old != redacted or list(row.entity_types or []) != types:
            row.text_redacted_ct = fields.encrypt(deks[row.data_key_id], redacted.encode(), aad)
            row.entity_types = types
            changed.append(row.id)
    session.flush()
    progress.after = rows[-1].id
    progress.read += len(rows)
    progress.changed += len(changed)
    progress.skipped += len(rows) - len(readable)
    record(session, AuditEntry(
        actor=actor, action=BATCH_ACTION, categories=["free_text"],
        detail={"run": progress.run_id, "after": progress.after, "read": len(rows),
                "rewritten": changed, "skipped": len(rows) - len(readable),
                "customers": len(customers), "total_read": progress.read,
                "total_changed": progress.changed, "total_skipped": progress.skipped},
    ))
    return len(rows)


def rescan_interactions(platform: Any, *, batch_size: int = 500, actor: str = "cli:pii-rescan",
                        restart: bool = False, limit: int | None = None,
                        on_batch: Callable[[RescanProgress], None] | None = None,
                        ) -> RescanProgress:
    """Rescan every stored interaction (or resume an unfinished run), one committed and
    audited transaction per batch; ``limit`` stops after about that many rows (the run
    stays resumable). Returns the run's progress."""
    with platform.transaction() as session:
        point = None if restart else resume_point(session)
    if point is not None:
        run_id, after, counts = point
        progress = RescanProgress(run_id=run_id, after=after, resumed=True,
                                  read=counts["read"], changed=counts["changed"],
                                  skipped=counts["skipped"])
    else:
        progress = RescanProgress(run_id=new_id())
    done_now = 0
    while limit is None or done_now < limit:
        size = batch_size if limit is None else min(batch_size, limit - done_now)
        with platform.transaction() as session:
            n = rescan_batch(session, platform, progress, batch_size=size, actor=actor)
            if n == 0:
                record(session, AuditEntry(
                    actor=actor, action=DONE_ACTION, categories=["free_text"],
                    detail={"run": progress.run_id, "total_read": progress.read,
                            "total_changed": progress.changed,
                            "total_skipped": progress.skipped}))
                break
        done_now += n
        progress.batches.append(n)
        if on_batch is not None:
            on_batch(progress)
    return progress
