"""The loyalty points ledger: append-only, idempotent per order, expiring oldest first.

Invariants (tests/crm/test_loyalty.py):
- the balance is the sum of the ledger and is never negative: a redemption above the balance
  is refused, a correction that would take more than the balance takes the balance;
- an order accrues once, whatever the number of re-ingests (the entry's ``ref`` is unique);
  a corrected order adjusts by a new entry for the difference;
- spending and expiry take the oldest points first (first in, first out by the time earned).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from cdp.crm.facts import Order
from cdp.crm.models import LoyaltyAccount, LoyaltyEntry
from cdp.crm.models import table as _table
from cdp.crm.settings import CrmSettings
from cdp.db.bulk import insert_rows
from cdp.errors import Conflict, ValidationError

EARNING = ("accrual", "adjustment")


def order_points(o: Order, settings: CrmSettings) -> int:
    """Points an order earns: eligible spend x rate, floored (prescription items excluded
    when the policy says so)."""
    if settings.loyalty_exclude_rx:
        if not any(it.rx for it in o.items):
            eligible = o.amount
        else:
            eligible = sum(it.qty * (it.unit_price or 0.0) for it in o.items if not it.rx)
    else:
        eligible = o.amount
    return max(0, math.floor(eligible * settings.loyalty_rate + 1e-9))


@dataclass
class _Lot:
    id: int
    remaining: int
    expires_at: datetime | None


def _simulate(entries: Sequence[Any], until: datetime) -> tuple[list[_Lot], list[tuple[_Lot, datetime, int]]]:
    """Replay a customer's ledger in time order: the lots left and the expiries due up to
    ``until`` that the ledger does not hold yet (each lot's remaining points at its expiry)."""
    lots: deque[_Lot] = deque()
    by_id: dict[int, _Lot] = {}
    pending: list[tuple[_Lot, datetime, int]] = []
    expired_lots = {e.lot_id for e in entries if e.kind == "expiry"}

    def expire_through(t: datetime) -> None:
        for lot in list(lots):
            if (lot.expires_at is not None and lot.expires_at <= t
                    and lot.id not in expired_lots):
                pending.append((lot, lot.expires_at, lot.remaining))
                expired_lots.add(lot.id)
                lot.remaining = 0

    for e in sorted(entries, key=lambda e: (e.at, e.id)):
        expire_through(e.at)
        if e.points > 0:
            lot = _Lot(e.id, e.points, e.expires_at)
            lots.append(lot)
            by_id[e.id] = lot
        elif e.kind == "expiry" and e.lot_id in by_id:
            by_id[e.lot_id].remaining += e.points
        elif e.points < 0:
            need = -e.points
            for lot in lots:  # oldest first
                if need == 0:
                    break
                take = min(lot.remaining, need)
                lot.remaining -= take
                need -= take
    expire_through(until)
    return [lot for lot in lots if lot.remaining > 0], pending


def _entries(session: Session, customer_id: str) -> list[LoyaltyEntry]:
    return list(session.scalars(select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id)))


def balance(session: Session, customer_id: str) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
                              .where(LoyaltyEntry.customer_id == customer_id)) or 0)


def expire_due(session: Session, customer_ids: Iterable[str] | None, now: datetime) -> int:
    """Append an expiry entry for each lot past its expiry: minus the points left in it
    (0 when they were spent; spending takes the oldest first).
    All customers with an expired lot when ``customer_ids`` is None, 2,000 customers at a
    time (a first refresh over a long history expires a lot of most customers). Returns
    entries added."""
    cols = (LoyaltyEntry.id, LoyaltyEntry.customer_id, LoyaltyEntry.kind, LoyaltyEntry.points,
            LoyaltyEntry.at, LoyaltyEntry.expires_at, LoyaltyEntry.lot_id)
    q = select(*cols).order_by(LoyaltyEntry.customer_id, LoyaltyEntry.at, LoyaltyEntry.id)
    if customer_ids is not None:
        return _expire(session, session.execute(
            q.where(LoyaltyEntry.customer_id.in_(list(customer_ids)))), now)
    # lots past their expiry without an expiry entry: every expired lot gets one (of
    # 0 points when it was spent), so a lot is looked at once, not every night
    handled = select(LoyaltyEntry.lot_id).where(LoyaltyEntry.kind == "expiry",
                                                LoyaltyEntry.lot_id.is_not(None))
    due = (select(LoyaltyEntry.customer_id).where(
        LoyaltyEntry.expires_at <= now, LoyaltyEntry.points > 0,
        LoyaltyEntry.id.not_in(handled)).distinct()
        .order_by(LoyaltyEntry.customer_id).limit(2000))
    added, last = 0, None
    while True:
        page = list(session.scalars(due if last is None else due.where(LoyaltyEntry.customer_id > last)))
        if not page:
            return added
        added += _expire(session, session.execute(q.where(LoyaltyEntry.customer_id.in_(page))), now)
        last = page[-1]


def _expire(session: Session, found: Iterable[Any], now: datetime) -> int:
    per: dict[str, list[Any]] = defaultdict(list)
    for e in found:
        per[e.customer_id].append(e)
    rows: list[dict[str, Any]] = []
    for cid, entries in per.items():
        _, pending = _simulate(entries, now)
        for lot, at, left in pending:
            rows.append({"customer_id": cid, "kind": "expiry", "points": -left,
                         "at": at, "expires_at": None, "ref": f"expiry:{lot.id}", "order_ref": None,
                         "lot_id": lot.id, "actor": "system", "created_at": now})
    insert_rows(session, _table(LoyaltyEntry), rows)
    return len(rows)


def accrue(session: Session, settings: CrmSettings, customer_orders: Iterable[tuple[str, list[Order]]],
           now: datetime) -> dict[str, int]:
    """Accrual entries for orders not in the ledger yet, adjustments for orders whose points
    changed. Returns counts {"accrued", "adjusted"}."""
    pairs = list(customer_orders)
    refs = [o.ref for _, orders in pairs for o in orders]
    have: dict[str, int] = defaultdict(int)
    n_entries: dict[str, int] = defaultdict(int)
    for start in range(0, len(refs), 500):
        for ref, pts in session.execute(
            select(LoyaltyEntry.order_ref, LoyaltyEntry.points)
            .where(LoyaltyEntry.order_ref.in_(refs[start:start + 500]))
        ):
            have[ref] += pts
            n_entries[ref] += 1
    rows: list[dict[str, Any]] = []
    counts = {"accrued": 0, "adjusted": 0}
    expiry = timedelta(days=settings.loyalty_expiry_days)
    for cid, orders in pairs:
        bal: int | None = None
        for o in orders:
            pts = order_points(o, settings)
            if o.ref not in n_entries:
                if pts > 0:
                    rows.append({"customer_id": cid, "kind": "accrual", "points": pts, "at": o.at,
                                 "expires_at": o.at + expiry, "ref": f"acc:{o.ref}",
                                 "order_ref": o.ref, "lot_id": None, "actor": "system",
                                 "created_at": now})
                    counts["accrued"] += 1
                    n_entries[o.ref] = 1
                    have[o.ref] = pts
                continue
            delta = pts - have[o.ref]
            if delta == 0:
                continue
            if delta < 0:
                if bal is None:
                    bal = balance(session, cid) + sum(r["points"] for r in rows if r["customer_id"] == cid)
                delta = -min(-delta, max(bal, 0))
                if delta == 0:
                    continue
            rows.append({"customer_id": cid, "kind": "adjustment", "points": delta, "at": now,
                         "expires_at": now + expiry if delta > 0 else None,
                         "ref": f"adj:{o.ref}:{n_entries[o.ref]}", "order_ref": o.ref,
                         "lot_id": None, "actor": "system", "created_at": now})
            if bal is not None:
                bal += delta
            n_entries[o.ref] += 1
            have[o.ref] += delta
            counts["adjusted"] += 1
    insert_rows(session, _table(LoyaltyEntry), rows)
    return counts


def redeem(session: Session, customer_id: str, points: int, *, actor: str, now: datetime,
           key: str | None = None) -> LoyaltyEntry:
    """Spend ``points`` (oldest first); Conflict when the balance is short. ``key`` makes a
    retried request a no-op (the first entry is returned)."""
    if not isinstance(points, int) or points <= 0:
        raise ValidationError("points must be a positive whole number", code="invalid_points")
    ref = f"redeem:{customer_id}:{key}" if key else None
    if ref is not None:
        done = session.scalar(select(LoyaltyEntry).where(LoyaltyEntry.ref == ref))
        if done is not None:
            return done
    expire_due(session, [customer_id], now)
    session.flush()
    available = balance(session, customer_id)
    if points > available:
        raise Conflict(f"the balance is {available} points; {points} cannot be redeemed",
                       code="insufficient_points")
    entry = LoyaltyEntry(customer_id=customer_id, kind="redemption", points=-points, at=now,
                         ref=ref, actor=actor, created_at=now)
    session.add(entry)
    session.flush()
    return entry


def trailing_points(session: Session, as_of: date,
                    customer_ids: Sequence[str] | None = None) -> dict[str, int]:
    """Points earned per customer (of ``customer_ids``, or all) in the 12 months up to
    ``as_of`` (for tiers)."""
    end = datetime.combine(as_of + timedelta(days=1), time(), UTC)
    start = end - timedelta(days=365)
    q = (select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points))
         .where(LoyaltyEntry.kind.in_(EARNING), LoyaltyEntry.at >= start, LoyaltyEntry.at < end)
         .group_by(LoyaltyEntry.customer_id))
    if customer_ids is None:
        return {cid: int(p or 0) for cid, p in session.execute(q)}
    return {cid: int(p or 0) for cid, p in session.execute(
        q.where(LoyaltyEntry.customer_id.in_(list(customer_ids))))}


def update_tiers(session: Session, settings: CrmSettings, customer_ids: Iterable[str],
                 as_of: date, *, chunk: int = 500) -> dict[str, str]:
    """Tier per customer: up at once when the trailing points reach a higher tier, down only
    once the tier period has ended. Returns customer -> tier. ``chunk`` customers at a time:
    their points and accounts read as plain rows, new accounts inserted, changed ones
    updated in one executemany."""
    ids = list(customer_ids)
    out: dict[str, str] = {}
    for i in range(0, len(ids), chunk):
        out.update(_update_tiers(session, settings, ids[i:i + chunk], as_of))
    session.flush()
    return out


def _update_tiers(session: Session, settings: CrmSettings, customer_ids: Sequence[str],
                  as_of: date) -> dict[str, str]:
    points = trailing_points(session, as_of, customer_ids)
    acct = _table(LoyaltyAccount)
    accounts = {r.customer_id: r for r in session.execute(
        select(acct.c.customer_id, acct.c.tier, acct.c.tier_since, acct.c.tier_until)
        .where(acct.c.customer_id.in_(customer_ids)))}
    period = timedelta(days=settings.tier_period_days)
    out: dict[str, str] = {}
    new_rows = []
    changed = []
    stamp = datetime.now(UTC)
    for cid in customer_ids:
        want = settings.tier_for(points.get(cid, 0))
        acc = accounts.get(cid)
        if acc is None:
            new_rows.append({"customer_id": cid, "tier": want, "tier_since": as_of,
                             "tier_until": as_of + period, "updated_at": stamp})
            out[cid] = want
            continue
        tier, since, until = acc.tier, acc.tier_since, acc.tier_until
        if settings.tier_rank(want) > settings.tier_rank(tier):
            tier, since, until = want, as_of, as_of + period
        elif as_of >= until:
            if want != tier:
                tier, since = want, as_of
            until = as_of + period
        if (tier, since, until) != (acc.tier, acc.tier_since, acc.tier_until):
            changed.append({"c_id": cid, "c_tier": tier, "c_since": since, "c_until": until,
                            "c_at": stamp})
        out[cid] = tier
    insert_rows(session, acct, new_rows)
    if changed:
        session.execute(update(acct).where(acct.c.customer_id == bindparam("c_id"))
                        .values(tier=bindparam("c_tier"), tier_since=bindparam("c_since"),
                                tier_until=bindparam("c_until"), updated_at=bindparam("c_at")),
                        changed)
    return out


def ledger(session: Session, customer_id: str, limit: int = 200) -> list[dict[str, Any]]:
    rows = session.scalars(select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id)
                           .order_by(LoyaltyEntry.at.desc(), LoyaltyEntry.id.desc()).limit(limit))
    return [{"id": e.id, "kind": e.kind, "points": e.points, "at": e.at.isoformat(),
             "expires_at": e.expires_at.isoformat() if e.expires_at else None} for e in rows]


def summary(session: Session, customer_id: str) -> dict[str, Any]:
    acc = session.get(LoyaltyAccount, customer_id)
    return {"balance": balance(session, customer_id), "tier": acc.tier if acc else None,
            "tier_until": acc.tier_until.isoformat() if acc else None}
