"""CRM rows through a customer's identity life: merge, split, access package, erasure.

Registered by the assembly (cdp.extensions) as hooks of the lower layers, which cannot
import the CRM: identity's merge and split (cdp.identity.hooks), the rights package and
erasure (cdp.rights.hooks).

Merge (B absorbed into A), in the merge's transaction:
- the loyalty ledger is re-keyed: B's entries become A's, each with its own points, time,
  expiry and lot. Re-keying, not transfer entries: the ledger is one person's, and a replay
  of A's ledger then spends and expires B's lots in their own order (oldest first) and counts
  B's earnings in A's trailing points for the tier; two transfer entries would turn B's lots
  into one new lot with a made-up expiry. No amount is ever changed; the merge itself is in
  the lineage and the audit log;
- the tier: A keeps the higher of the two tiers (with its own period); B's account goes;
- complaints and care tasks move to A; B's profile is dropped (the next refresh computes A);
- segment stays move to A with their entry times; where A and B were both in a segment the
  later stay is closed at the merge, so A is in each segment once.

Split (records moved off A to a new customer C), the reverse as far as the data tells:
- the accrual and adjustment entries of the orders the moved records carry (the entry's
  order reference is a keyed hash of source and order id) go to C, with the expiry entries
  of those lots; redemptions stay with A (A spent them). If that leaves either balance below
  zero, a pair of ``transfer`` entries moves the shortfall from the other (the sum of the two
  balances is what A had, never negative);
- complaints opened from the moved records' interactions go to C;
- tiers, segments, profiles and care tasks stay and are recomputed for both at the next
  refresh (C starts without a tier; A keeps its tier until its period ends, the usual rule).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, select, update
from sqlalchemy.orm import Session

from cdp.crm import complaints as complaints_svc
from cdp.crm import loyalty
from cdp.crm.facts import iter_facts
from cdp.crm.models import (
    CareTask,
    Complaint,
    ComplaintEvent,
    CrmProfile,
    LoyaltyAccount,
    LoyaltyEntry,
    SegmentMember,
    table,
)
from cdp.crm.reads import load_traits
from cdp.crm.settings import CrmSettings, load_settings
from cdp.crypto import fields
from cdp.errors import DecryptionError
from cdp.identity.models import Interaction
from cdp.rights.erasure import retain_record
from cdp.rights.policy import load_retention

_MOVED = (LoyaltyEntry, Complaint, CareTask, SegmentMember)


def on_merge(session: Session, platform: Any, pairs: Sequence[tuple[str, str]], now: datetime) -> None:
    """CRM rows of each absorbed customer follow to its survivor (``pairs``: absorbed, survivor)."""
    params = [{"o": o, "t": t} for o, t in pairs]
    _merge_tiers(session, platform, pairs, now)
    for model in _MOVED:
        t = table(model)
        session.execute(update(t).where(t.c.customer_id == bindparam("o"))
                        .values(customer_id=bindparam("t")), params)
    prof = table(CrmProfile)
    session.execute(delete(prof).where(prof.c.customer_id == bindparam("o")), params)
    # one open stay per segment and customer: a later duplicate ends at the merge
    sm = table(SegmentMember)
    other = sm.alias("earlier")
    earlier = exists().where(
        other.c.customer_id == sm.c.customer_id, other.c.segment == sm.c.segment,
        other.c.left_at.is_(None), other.c.id != sm.c.id,
        (other.c.entered_at < sm.c.entered_at)
        | and_(other.c.entered_at == sm.c.entered_at, other.c.id < sm.c.id))
    survivors = sorted({t for _, t in pairs})
    session.execute(update(sm).where(sm.c.customer_id == bindparam("s"), sm.c.left_at.is_(None), earlier)
                    .values(left_at=now), [{"s": s} for s in survivors])


def _merge_tiers(session: Session, platform: Any, pairs: Sequence[tuple[str, str]], now: datetime) -> None:
    acct = table(LoyaltyAccount)
    ids = {c for pair in pairs for c in pair}
    rows = {r.customer_id: r for r in session.execute(
        select(acct.c.customer_id, acct.c.tier, acct.c.tier_since, acct.c.tier_until)
        .where(acct.c.customer_id.in_(sorted(ids))))}
    if not any(o in rows for o, _ in pairs):
        return
    rank = (load_settings(platform.policies).tier_rank if platform is not None
            else (lambda _tier: 0))  # without the policy: the survivor's tier stands
    for o, t in pairs:
        absorbed = rows.pop(o, None)
        if absorbed is None:
            continue
        session.execute(delete(acct).where(acct.c.customer_id == o))
        kept = rows.get(t)
        if kept is None:
            session.execute(acct.insert().values(
                customer_id=t, tier=absorbed.tier, tier_since=absorbed.tier_since,
                tier_until=absorbed.tier_until, updated_at=now))
            rows[t] = absorbed
        elif rank(absorbed.tier) > rank(kept.tier):
            session.execute(update(acct).where(acct.c.customer_id == t).values(
                tier=absorbed.tier, tier_since=absorbed.tier_since,
                tier_until=absorbed.tier_until, updated_at=now))
            rows[t] = absorbed


def on_split(session: Session, platform: Any, source: str, new: str, record_ids: Sequence[str],
             now: datetime) -> None:
    """The loyalty entries of the moved records' orders, and complaints from their
    interactions, go to the new customer (see the module docstring)."""
    settings = load_settings(platform.policies)
    refs = sorted({o.ref for f in iter_facts(session, platform, settings, [new]) for o in f.orders})
    le = table(LoyaltyEntry)
    moved: list[int] = []
    for start in range(0, len(refs), 500):
        moved += session.scalars(select(le.c.id).where(
            le.c.customer_id == source, le.c.order_ref.in_(refs[start:start + 500]),
            le.c.kind.in_(loyalty.EARNING)))
    for start in range(0, len(moved), 500):
        part = moved[start:start + 500]
        session.execute(update(le).where(
            le.c.customer_id == source, le.c.id.in_(part) | le.c.lot_id.in_(part))
            .values(customer_id=new))
    bal = {c: loyalty.balance(session, c) for c in (source, new)}
    for short, other in ((source, new), (new, source)):
        if bal[short] < 0:
            d = -bal[short]
            expiry = now + timedelta(days=settings.loyalty_expiry_days)
            session.execute(le.insert(), [
                {"customer_id": short, "kind": "transfer", "points": d, "at": now,
                 "expires_at": expiry, "ref": None, "order_ref": None, "lot_id": None,
                 "actor": "system", "created_at": now},
                {"customer_id": other, "kind": "transfer", "points": -d, "at": now,
                 "expires_at": None, "ref": None, "order_ref": None, "lot_id": None,
                 "actor": "system", "created_at": now}])
    c = table(Complaint)
    for start in range(0, len(record_ids), 500):
        session.execute(update(c).where(
            c.c.customer_id == source,
            c.c.interaction_id.in_(select(Interaction.id).where(
                Interaction.record_id.in_(list(record_ids[start:start + 500])))))
            .values(customer_id=new))


def package_section(session: Session, platform: Any, customer_id: str) -> dict[str, Any] | None:
    """Everything the CRM holds about the customer, for the access package: the computed
    profile (scores, segments, adherence, refills), segment stays, the loyalty ledger and
    tier, complaints with their history, care tasks. None when there is nothing."""
    settings = load_settings(platform.policies)
    now = datetime.now(UTC)
    out: dict[str, Any] = {}
    traits = load_traits(session, platform, [customer_id]).get(customer_id)
    if traits is not None:
        out["profile"] = traits
    stays = session.execute(select(SegmentMember.segment, SegmentMember.entered_at, SegmentMember.left_at)
                            .where(SegmentMember.customer_id == customer_id)
                            .order_by(SegmentMember.entered_at, SegmentMember.id)).all()
    if stays:
        out["segment_stays"] = [{"segment": s, "entered_at": e.isoformat(),
                                 "left_at": left.isoformat() if left else None} for s, e, left in stays]
    n_entries = session.scalar(select(func.count()).select_from(LoyaltyEntry)
                               .where(LoyaltyEntry.customer_id == customer_id)) or 0
    if n_entries or session.get(LoyaltyAccount, customer_id) is not None:
        out["loyalty"] = {**loyalty.summary(session, customer_id),
                          "ledger": loyalty.ledger(session, customer_id, limit=max(n_entries, 1))}
    tickets = list(session.scalars(select(Complaint).where(Complaint.customer_id == customer_id)
                                   .order_by(Complaint.opened_at, Complaint.id)))
    if tickets:
        keys = platform.keys.load(session, {t.data_key_id for t in tickets if t.data_key_id})
        items = [_ticket_json(session, t, keys, settings, now) for t in tickets]
        out["complaints"] = items
    tasks = list(session.scalars(select(CareTask).where(CareTask.customer_id == customer_id)
                                 .order_by(CareTask.due_on, CareTask.id)))
    if tasks:
        keys = platform.keys.load(session, {t.data_key_id for t in tasks if t.data_key_id})
        out["care_tasks"] = []
        for task in tasks:
            detail = None
            if task.detail_ct is not None and task.data_key_id in keys:
                with contextlib.suppress(DecryptionError):
                    detail = fields.decrypt_json(keys[task.data_key_id], task.detail_ct,
                                                 fields.field_aad("crm_care_tasks", "detail_ct", task.id))
            out["care_tasks"].append({
                "kind": task.kind, "due_on": task.due_on.isoformat(), "status": task.status,
                "outcome": task.outcome, "detail": detail,
                "completed_at": task.completed_at.isoformat() if task.completed_at else None})
    return out or None


def _ticket_json(session: Session, t: Complaint, keys: dict[str, bytes], settings: CrmSettings,
                 now: datetime) -> dict[str, Any]:
    """A ticket as the customer's access package shows it: with what the customer wrote
    when it was opened through the API, and its state history."""
    item = complaints_svc.as_json(t, settings, now)
    if t.description_ct is not None and t.data_key_id in keys:
        with contextlib.suppress(DecryptionError):
            item["description"] = fields.decrypt(
                keys[t.data_key_id], t.description_ct,
                fields.field_aad("crm_complaints", "description_ct", t.id)).decode()
    item["history"] = [
        {"from": e.from_state, "to": e.to_state, "at": e.at.isoformat(), "actor": e.actor}
        for e in session.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == t.id)
                                 .order_by(ComplaintEvent.at, ComplaintEvent.id))]
    return item


def _retain_adr_reports(session: Session, platform: Any, ids: list[str], now: datetime) -> None:
    """Keep the adverse drug reaction tickets of ``ids`` past the erasure (a pharmacy must keep
    its ADR reports and files: ``[categories.health] adr_keep_days`` of retention.toml): the
    ticket, its history, and what the customer said (the description, or the interaction the
    ticket was opened from), under a retention key (cdp.rights.erasure.retain_record). Runs
    before the customer's data keys are destroyed; a ticket past its retention is not kept."""
    tickets = list(session.scalars(select(Complaint).where(
        Complaint.customer_id.in_(ids), Complaint.category == complaints_svc.ADR)
        .order_by(Complaint.opened_at, Complaint.id)))
    if not tickets:
        return
    keep = load_retention(platform.policies).adr_keep
    settings = load_settings(platform.policies)
    said = {i.id: i for i in session.scalars(select(Interaction).where(
        Interaction.id.in_([t.interaction_id for t in tickets if t.interaction_id])))}
    keys = platform.keys.load(session, {t.data_key_id for t in tickets if t.data_key_id}
                              | {i.data_key_id for i in said.values()})
    for t in tickets:
        # counted from the day the pharmacy learned of the reaction, as the free-text hold
        # (adr_interactions_held) counts it, not from when the ticket was typed in
        keep_until = (datetime.combine(t.adr_learned_on, datetime.min.time(), tzinfo=UTC)
                      if t.adr_learned_on else t.opened_at) + keep
        if keep_until <= now:
            continue
        payload: dict[str, Any] = {"complaint": _ticket_json(session, t, keys, settings, now)}
        it = said.get(t.interaction_id or "")
        if it is not None and it.data_key_id in keys:
            with contextlib.suppress(DecryptionError):
                payload["interaction"] = {
                    "kind": it.kind, "at": it.at.isoformat() if it.at else None,
                    "text": fields.decrypt(keys[it.data_key_id], it.text_ct,
                                           fields.field_aad("interactions", "text_ct", it.id)).decode()}
        retain_record(session, platform, customer_id=t.customer_id, source=t.channel,
                      category="health", reason="adr_record_retention", payload=payload,
                      keep_until=keep_until, now=now)


def adr_interactions_held(session: Session, platform: Any, now: datetime) -> Any:
    """The interactions adverse drug reaction tickets were opened from, while the ticket is
    within its retention (``adr_keep_days`` from the day learned): the free-text retention
    job, which would delete them sooner, leaves them (a retention hold, cdp.rights.hooks)."""
    since = (now - load_retention(platform.policies).adr_keep).date()
    return select(Complaint.interaction_id).where(
        Complaint.category == complaints_svc.ADR, Complaint.interaction_id.is_not(None),
        Complaint.adr_learned_on >= since)


def erase(session: Session, platform: Any, customer_ids: Sequence[str], now: datetime) -> dict[str, int]:
    """Delete every CRM row of ``customer_ids`` (an erased customer and those merged into it).

    The encrypted parts would be unreadable once the keys are shredded, but scores, segment
    stays, ledger entries, tiers and complaint tickets are derived personal data in clear:
    they go. Adverse drug reaction tickets are first kept under a retention key, as the law
    asks (``_retain_adr_reports``). Returns the rows deleted per table."""
    ids = list(customer_ids)
    out: dict[str, int] = {}
    _retain_adr_reports(session, platform, ids, now)
    complaint_ids = list(session.scalars(select(Complaint.id).where(Complaint.customer_id.in_(ids))))
    n = 0
    for start in range(0, len(complaint_ids), 500):
        res = session.execute(delete(ComplaintEvent).where(
            ComplaintEvent.complaint_id.in_(complaint_ids[start:start + 500])))
        n += int(getattr(res, "rowcount", 0) or 0)
    out["crm_complaint_events"] = n
    for model in (Complaint, CareTask, SegmentMember, LoyaltyEntry, LoyaltyAccount, CrmProfile):
        t = table(model)
        res = session.execute(delete(t).where(t.c.customer_id.in_(ids)))
        out[t.name] = int(getattr(res, "rowcount", 0) or 0)
    return out
