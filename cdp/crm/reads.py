"""Reading CRM outputs back: decrypted profiles, refill reminders, segment members and
sizes, the retention list. No auditing and no role logic here: the callers (views.py,
commands.py) audit each read in their transaction, the gates decide who may be listed."""

from __future__ import annotations

import bisect
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cdp.crm import gates
from cdp.crm.models import CrmProfile, SegmentMember
from cdp.crm.segments import Segment
from cdp.crm.settings import CrmSettings
from cdp.crypto import fields
from cdp.errors import DecryptionError


def load_traits(session: Session, platform: Any, customer_ids: list[str]) -> dict[str, dict[str, Any]]:
    """customer -> decrypted traits of the last refresh (customers without one left out)."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(customer_ids), 500):
        rows = session.execute(select(CrmProfile.customer_id, CrmProfile.data_key_id,
                                      CrmProfile.traits_ct, CrmProfile.as_of)
                               .where(CrmProfile.customer_id.in_(customer_ids[start:start + 500]))).all()
        keys = platform.keys.load(session, {r.data_key_id for r in rows})
        for r in rows:
            if r.data_key_id not in keys:
                continue
            try:
                t = fields.decrypt_json(keys[r.data_key_id], r.traits_ct,
                                        fields.field_aad("crm_profiles", "traits_ct", r.customer_id))
            except DecryptionError:
                continue
            t["as_of"] = r.as_of.isoformat()
            out[r.customer_id] = t
    return out


def refill_reminders(session: Session, platform: Any, settings: CrmSettings, today: date,
                     within: int, *, overdue_days: int = 30) -> list[dict[str, Any]]:
    """Refills due from ``overdue_days`` ago up to ``within`` days ahead, for customers
    whose newest care_reminders consent is granted; sorted by due date."""
    until = today + timedelta(days=within)
    since = today - timedelta(days=overdue_days)
    ids = list(session.scalars(select(CrmProfile.customer_id).where(
        CrmProfile.next_refill_due.is_not(None), CrmProfile.next_refill_due <= until)))
    consents = gates.newest_consents(session, ids, (gates.CARE,))
    ids = [cid for cid in ids if gates.may_remind(consents.get(cid, {}))]
    out = []
    for cid, t in load_traits(session, platform, ids).items():
        for r in t.get("refills", []):
            due = date.fromisoformat(r["due"])
            if since <= due <= until:
                out.append({"customer_id": cid, "class": r["class"], "atc": r["atc"],
                            "due": r["due"], "last_fill": r["last_fill"],
                            "long_supply": r["long_supply"]})
    out.sort(key=lambda r: (r["due"], r["customer_id"], r["atc"]))
    return out


def segment_sizes(session: Session) -> dict[str, int]:
    rows = session.execute(select(SegmentMember.segment, func.count())
                           .where(SegmentMember.left_at.is_(None)).group_by(SegmentMember.segment))
    return {s: int(n) for s, n in rows}


def segment_flow(session: Session, segment: str, since: datetime) -> dict[str, int]:
    """Entries and exits of ``segment`` since ``since`` (the "entered at risk this week" query)."""
    entered = session.scalar(select(func.count()).select_from(SegmentMember).where(
        SegmentMember.segment == segment, SegmentMember.entered_at >= since)) or 0
    left = session.scalar(select(func.count()).select_from(SegmentMember).where(
        SegmentMember.segment == segment, SegmentMember.left_at >= since)) or 0
    return {"entered": int(entered), "left": int(left)}


def marketable_members(session: Session, seg: Segment, *, limit: int, after: str | None,
                       entered_since: datetime | None = None) -> tuple[list[str], int]:
    """Current members of ``seg`` marketing may receive (consent gates), in id order, at most
    ``limit`` after the id ``after``; and how many members were held back."""
    q = select(SegmentMember.customer_id, SegmentMember.entered_at).where(
        SegmentMember.segment == seg.name, SegmentMember.left_at.is_(None))
    if entered_since is not None:
        q = q.where(SegmentMember.entered_at >= entered_since)
    if after:
        q = q.where(SegmentMember.customer_id > after)
    out: list[str] = []
    held = 0
    batch = max(limit * 2, 200)
    cursor = after
    while len(out) < limit:
        qq = q if cursor is None else q.where(SegmentMember.customer_id > cursor)
        rows = session.execute(qq.order_by(SegmentMember.customer_id).limit(batch)).all()
        if not rows:
            break
        ids = [r.customer_id for r in rows]
        consents = gates.newest_consents(session, ids)
        for cid in ids:
            if len(out) >= limit:
                break
            if gates.may_market(consents.get(cid, {}), health=seg.health):
                out.append(cid)
            else:
                held += 1
            cursor = cid
        if len(rows) < batch:
            break
    return out, held


def retention_list(session: Session, settings: CrmSettings, *, limit: int) -> list[dict[str, Any]]:
    """Valuable customers (value score >= policy) whose probability alive fell below the
    policy threshold, most valuable first, marketing consent required."""
    rows = session.execute(
        select(CrmProfile.customer_id, CrmProfile.p_alive, CrmProfile.clv_12m, CrmProfile.value_score)
        .where(CrmProfile.p_alive < settings.alive_threshold,
               CrmProfile.value_score >= settings.min_value_score,
               CrmProfile.profiling_objection.is_(False))
        .order_by(CrmProfile.clv_12m.desc(), CrmProfile.customer_id)
    ).all()
    consents = gates.newest_consents(session, [r.customer_id for r in rows])
    out = []
    for r in rows:
        if not gates.may_market(consents.get(r.customer_id, {}), health=False):
            continue
        out.append({"customer_id": r.customer_id, "p_alive": r.p_alive, "clv_12m": r.clv_12m,
                    "value_score": r.value_score})
        if len(out) >= limit:
            break
    return out


def retention_counts(session: Session, settings: CrmSettings) -> dict[int, dict[str, int]]:
    """Per value score: customers scored, and how many of them are lapsing (p alive below
    the threshold). Counts only: the caller suppresses small ones."""
    total = dict(session.execute(
        select(CrmProfile.value_score, func.count()).where(CrmProfile.value_score.is_not(None))
        .group_by(CrmProfile.value_score)).tuples().all())
    lapsing = dict(session.execute(
        select(CrmProfile.value_score, func.count()).where(
            CrmProfile.value_score.is_not(None), CrmProfile.p_alive < settings.alive_threshold)
        .group_by(CrmProfile.value_score)).tuples().all())
    return {int(v or 0): {"customers": int(n), "lapsing": int(lapsing.get(v, 0))}
            for v, n in sorted(total.items(), key=lambda kv: kv[0] or 0)}


def birthdays(session: Session, platform: Any, today: date, days: int) -> list[dict[str, Any]]:
    """Customers with marketing consent whose birthday falls in the next ``days`` days."""
    consents = gates.newest_consents(session, None, (gates.MARKETING, gates.PROFILING))
    ids = sorted(cid for cid, c in consents.items() if gates.may_market(c, health=False))
    wanted = {(today + timedelta(days=i)).strftime("%m-%d"): (today + timedelta(days=i))
              for i in range(days + 1)}
    out = []
    for cid, t in load_traits(session, platform, ids).items():
        md = t.get("birthday")
        if md in wanted:
            out.append({"customer_id": cid, "on": wanted[md].isoformat(), "tier": t.get("tier")})
    out.sort(key=lambda r: (r["on"], r["customer_id"]))
    return out


def segment_flow_weekly(session: Session, starts: list[datetime]) -> dict[str, list[dict[str, int]]]:
    """Per segment, entries and exits in each week beginning at ``starts`` (ascending; the
    last week runs to now): one pass over the membership rows that moved since the first."""
    if not starts:
        return {}
    first = starts[0]
    out: dict[str, list[dict[str, int]]] = {}

    def week(at: datetime) -> int:
        return bisect.bisect_right(starts, at) - 1

    for seg, at in session.execute(select(SegmentMember.segment, SegmentMember.entered_at)
                                   .where(SegmentMember.entered_at >= first)):
        out.setdefault(seg, [{"entered": 0, "left": 0} for _ in starts])[week(at)]["entered"] += 1
    for seg, at in session.execute(select(SegmentMember.segment, SegmentMember.left_at)
                                   .where(SegmentMember.left_at >= first)):
        out.setdefault(seg, [{"entered": 0, "left": 0} for _ in starts])[week(at)]["left"] += 1
    return out
