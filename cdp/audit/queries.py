"""Compliance queries: who saw what when and why; break-glass uses; unusually busy readers."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.audit.models import AuditEvent

READ_ACTIONS = ("customers.read",)


def event_dict(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "role": e.role,
        "purpose": e.purpose,
        "action": e.action,
        "customer_id": e.customer_id,
        "categories": e.categories,
        "view": e.view,
        "decision": e.decision,
        "reason": e.reason,
        "request_id": e.request_id,
        "detail": e.detail,
        "chain": e.chain,
        "seq": e.seq,
        "entry_hash": e.entry_hash,
    }


def find_events(
    session: Session,
    *,
    customer_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int | None = None,
    limit: int = 100,
    purpose: str | None = None,
) -> list[AuditEvent]:
    """Entries matching every given filter, oldest first, ``limit`` at most after ``after_id``."""
    q = select(AuditEvent)
    if customer_id:
        q = q.where(AuditEvent.customer_id == customer_id)
    if actor:
        q = q.where(AuditEvent.actor == actor)
    if action:
        q = q.where(AuditEvent.action == action)
    if purpose:
        q = q.where(AuditEvent.purpose == purpose)
    if since:
        q = q.where(AuditEvent.at >= since)
    if until:
        q = q.where(AuditEvent.at < until)
    if after_id:
        q = q.where(AuditEvent.id > after_id)
    return list(session.scalars(q.order_by(AuditEvent.id).limit(limit)))



def heavy_readers(
    session: Session,
    *,
    window: timedelta,
    threshold: int,
    since: datetime,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Actors who read at least ``threshold`` distinct customers within any ``window``.

    A sliding window over each actor's allowed reads: reported once per actor with the
    largest count seen and when that window started.
    """
    q = select(AuditEvent.actor, AuditEvent.role, AuditEvent.customer_id, AuditEvent.at).where(
        AuditEvent.action.in_(READ_ACTIONS),
        AuditEvent.decision == "allow",
        AuditEvent.at >= since,
        AuditEvent.customer_id.is_not(None),
    )
    if until:
        q = q.where(AuditEvent.at < until)
    per_actor: dict[str, list[tuple[datetime, str, str | None]]] = defaultdict(list)
    for actor, role, cid, at in session.execute(q.order_by(AuditEvent.actor, AuditEvent.at)):
        per_actor[actor].append((at, cid, role))
    out = []
    for actor, reads in per_actor.items():
        win: deque[tuple[datetime, str]] = deque()
        counts: dict[str, int] = defaultdict(int)
        best, best_start = 0, None
        for at, cid, _ in reads:
            win.append((at, cid))
            counts[cid] += 1
            while win and at - win[0][0] > window:
                _, old = win.popleft()
                counts[old] -= 1
                if not counts[old]:
                    del counts[old]
            if len(counts) > best:
                best, best_start = len(counts), win[0][0]
        if best >= threshold:
            out.append(
                {
                    "actor": actor,
                    "role": reads[0][2],
                    "distinct_customers": best,
                    "window_start": best_start.isoformat() if best_start else None,
                    "window_minutes": window.total_seconds() / 60,
                    "total_reads": len(reads),
                }
            )
    return sorted(out, key=lambda r: -r["distinct_customers"])
