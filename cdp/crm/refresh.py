"""`cdp crm refresh`: every CRM output computed from the data as of one day.

One pass over the customers (decrypt, reduce to traits, accrue loyalty points), then the
population-wide steps: RFM quintiles, the BG/NBD and Gamma-Gamma fits and scores, tiers,
point expiry, segment membership (entries and exits), care tasks, complaint tickets. The
caller owns the transaction; everything here only flushes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time as _time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cdp.audit.log import AuditEntry, record
from cdp.crm import clv, complaints, gates, loyalty
from cdp.crm.facts import iter_facts
from cdp.crm.models import CareTask, CrmProfile, ModelFit, SegmentMember
from cdp.crm.models import table as _table
from cdp.crm.segments import load_segments
from cdp.crm.settings import CrmSettings, load_settings
from cdp.crm.traits import Rfm, base_traits, quintile_scores
from cdp.crypto import fields
from cdp.db import new_id
from cdp.db.bulk import insert_rows

log = logging.getLogger("cdp.crm")
DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0}


@dataclass
class RefreshReport:
    as_of: str
    customers: int = 0
    profiles: int = 0
    scored: int = 0
    profiling_objections: int = 0
    segments_entered: int = 0
    segments_left: int = 0
    points_accrued: int = 0
    points_adjusted: int = 0
    points_expired: int = 0
    complaints_opened: int = 0
    care_tasks_created: int = 0
    bg_nbd: dict[str, float] = field(default_factory=dict)
    gamma_gamma: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def today(settings: CrmSettings) -> date:
    return datetime.now(UTC).astimezone(settings.tz).date()


def end_of_day(d: date, settings: CrmSettings) -> datetime:
    return datetime.combine(d + timedelta(days=1), time(), settings.tz).astimezone(UTC) - timedelta(
        microseconds=1)


def task_ref(index_key: bytes, *parts: str) -> str:
    return hmac.new(index_key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def rfm_inputs(rfms: list[Rfm], as_of: date, unit_days: float) -> tuple[np.ndarray, ...]:
    """(x, t_x, T, repeat count, mean repeat-day value) per customer in ``rfms``."""
    n = len(rfms)
    x, tx, T = np.zeros(n), np.zeros(n), np.zeros(n)
    mean_rep = np.zeros(n)
    for i, r in enumerate(rfms):
        first = r.days[0]
        x[i] = len(r.days) - 1
        tx[i] = (r.days[-1] - first).days / unit_days
        T[i] = (as_of - first).days / unit_days
        if len(r.days) > 1:
            mean_rep[i] = sum(r.day_amounts[1:]) / (len(r.days) - 1)
    return x, tx, T, x.copy(), mean_rep


def _score(report: RefreshReport, settings: CrmSettings, rfms: list[Rfm], as_of: date,
           session: Session) -> dict[str, np.ndarray] | None:
    """Fit both models on the scored customers and score them; None when they cannot be
    fitted (too few customers or purchases)."""
    unit = DAYS_PER_UNIT[settings.time_unit]
    x, tx, T, freq, mean_rep = rfm_inputs(rfms, as_of, unit)
    try:
        params = clv.fit_bgnbd(x, tx, T)
    except ValueError:
        return None
    if not all(np.isfinite([params.r, params.alpha, params.a, params.b])):
        return None
    report.bg_nbd = {"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b,
                     "log_likelihood": params.log_likelihood}
    session.add(ModelFit(model="bg_nbd", as_of=as_of, customers=len(rfms),
                         params={**report.bg_nbd, "time_unit": settings.time_unit}))
    sc = clv.score(params, x, tx, T, horizon=settings.horizon_days / unit,
                   months=settings.value_months, days_per_unit=unit,
                   annual_discount=settings.discount_rate)
    try:
        gg = clv.fit_gamma_gamma(freq, mean_rep)
        spend = clv.expected_spend(gg, freq, mean_rep)
        report.gamma_gamma = {"p": gg.p, "q": gg.q, "v": gg.v, "log_likelihood": gg.log_likelihood}
        session.add(ModelFit(model="gamma_gamma", as_of=as_of, customers=int(np.sum(freq > 0)),
                             params=report.gamma_gamma))
    except ValueError:
        # too few repeat buyers: each customer's own mean spend per purchase day
        spend = np.array([sum(r.day_amounts) / len(r.days) for r in rfms])
    value = sc.value(spend)
    return {"p_alive": sc.p_alive, "expected_90d": sc.expected, "clv_12m": value,
            "value_score": quintile_scores(value)}


def refresh(session: Session, platform: Any, as_of: date | None = None, *,
            actor: str = "system") -> RefreshReport:
    """Compute every CRM output as of ``as_of`` (today in the CRM time zone by default)."""
    settings = load_settings(platform.policies)
    segments = load_segments(platform.policies)
    as_of = as_of or today(settings)
    now = datetime.now(UTC)
    stamp = min(now, end_of_day(as_of, settings))
    report = RefreshReport(as_of=as_of.isoformat())
    clock = _time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        t = _time.perf_counter()
        report.seconds[name] = round(t - clock, 3)
        clock = t

    consents = gates.newest_consents(session)
    ids: list[str] = []
    traits: list[dict[str, Any]] = []
    rfms: list[Rfm] = []
    keys: list[tuple[str, bytes] | None] = []
    pending_orders: list[tuple[str, list[Any]]] = []
    for f in iter_facts(session, platform, settings):
        t, rfm = base_traits(f, settings, as_of)
        ids.append(f.customer_id)
        traits.append(t)
        rfms.append(rfm)
        keys.append((f.key_id, f.dek) if f.key_id and f.dek else None)
        orders = [o for o in f.orders if o.day <= as_of]
        if orders:
            pending_orders.append((f.customer_id, orders))
        if len(pending_orders) >= 2000:
            c = loyalty.accrue(session, settings, pending_orders, stamp)
            report.points_accrued += c["accrued"]
            report.points_adjusted += c["adjusted"]
            pending_orders = []
    c = loyalty.accrue(session, settings, pending_orders, stamp)
    report.points_accrued += c["accrued"]
    report.points_adjusted += c["adjusted"]
    report.customers = len(ids)
    lap("read_traits_accrue")

    objecting = np.array([gates.objects_to_profiling(consents.get(cid, {})) for cid in ids],
                         dtype=bool)
    report.profiling_objections = int(objecting.sum())
    buyers = np.array([bool(r.days) for r in rfms], dtype=bool)
    scored_idx = np.nonzero(buyers & ~objecting)[0]
    report.scored = int(scored_idx.size)
    if scored_idx.size:
        rec = np.array([-traits[i]["recency_days"] for i in scored_idx], dtype=np.float64)
        freq = np.array([traits[i]["frequency"] for i in scored_idx], dtype=np.float64)
        mon = np.array([traits[i]["monetary"] for i in scored_idx], dtype=np.float64)
        for name, vals in (("r_score", rec), ("f_score", freq), ("m_score", mon)):
            for k, q in zip(scored_idx, quintile_scores(vals), strict=True):
                traits[int(k)][name] = int(q)
        lap("rfm")
        scores = _score(report, settings, [rfms[i] for i in scored_idx], as_of, session)
        lap("fit_score")
        if scores is not None:
            for j, k in enumerate(scored_idx):
                pa = float(scores["p_alive"][j])
                traits[int(k)].update(p_alive=round(pa, 4), churn_score=round(1.0 - pa, 4),
                                 expected_90d=round(float(scores["expected_90d"][j]), 4),
                                 clv_12m=round(float(scores["clv_12m"][j]), 2),
                                 value_score=int(scores["value_score"][j]))

    report.points_expired = loyalty.expire_due(session, None, stamp)
    tiers = loyalty.update_tiers(session, settings, ids, as_of)
    for i, cid in enumerate(ids):
        traits[i]["tier"] = tiers.get(cid)
    lap("loyalty")

    # segment membership: entries and exits against the open stays
    members: dict[str, set[str]] = {name: set() for name in segments}
    for i, cid in enumerate(ids):
        if objecting[i] or not buyers[i]:
            continue
        t = traits[i]
        for name, seg in segments.items():
            if seg.predicate(t):
                members[name].add(cid)
    open_rows = session.execute(select(SegmentMember.id, SegmentMember.segment,
                                       SegmentMember.customer_id)
                                .where(SegmentMember.left_at.is_(None))).all()
    current: dict[str, set[str]] = {}
    leaving: list[int] = []
    for rid, seg_name, cid in open_rows:
        if cid in members.get(seg_name, ()):
            current.setdefault(seg_name, set()).add(cid)
        else:
            leaving.append(rid)
    for start in range(0, len(leaving), 500):
        session.execute(update(SegmentMember).where(SegmentMember.id.in_(leaving[start:start + 500]))
                        .values(left_at=stamp))
    entering = [{"segment": name, "customer_id": cid, "entered_at": stamp, "left_at": None}
                for name, cids in members.items() for cid in sorted(cids - current.get(name, set()))]
    insert_rows(session, _table(SegmentMember), entering)
    report.segments_entered, report.segments_left = len(entering), len(leaving)
    for i, cid in enumerate(ids):
        traits[i]["segments"] = sorted(n for n, cids in members.items() if cid in cids)
    lap("segments")

    # profiles: replaced whole (a merged or erased customer's profile goes with it)
    session.execute(delete(CrmProfile))
    rows: list[dict[str, Any]] = []
    written = 0
    for i, cid in enumerate(ids):
        key = keys[i]
        if key is None:
            continue
        t = traits[i]
        due = [r["due"] for r in t["refills"]]
        rows.append({
            "customer_id": cid, "as_of": as_of, "computed_at": now, "data_key_id": key[0],
            "traits_ct": fields.encrypt(key[1], orjson.dumps(t),
                                        fields.field_aad("crm_profiles", "traits_ct", cid)),
            "r_score": t.get("r_score"), "f_score": t.get("f_score"), "m_score": t.get("m_score"),
            "p_alive": t.get("p_alive"), "clv_12m": t.get("clv_12m"),
            "value_score": t.get("value_score"), "profiling_objection": bool(objecting[i]),
            "next_refill_due": date.fromisoformat(min(due)) if due else None,
        })
        if len(rows) == 5000:  # written as they are made: the ciphertexts are not all held
            insert_rows(session, _table(CrmProfile), rows)
            written += len(rows)
            rows = []
    insert_rows(session, _table(CrmProfile), rows)
    report.profiles = written + len(rows)
    lap("profiles")

    report.care_tasks_created = _care_tasks(session, platform, settings, ids, traits, keys,
                                            consents, as_of)
    report.complaints_opened = complaints.from_interactions(session, platform, settings, stamp)
    lap("tasks_complaints")
    session.flush()
    record(session, AuditEntry(actor=actor, action="crm.refresh", detail={
        "as_of": report.as_of, "customers": report.customers, "profiles": report.profiles,
        "segments_entered": report.segments_entered, "segments_left": report.segments_left}))
    log.info("crm refresh as of %s: %d customers", report.as_of, report.customers)
    return report


def _care_tasks(session: Session, platform: Any, settings: CrmSettings, ids: list[str],
                traits: list[dict[str, Any]], keys: list[tuple[str, bytes] | None],
                consents: dict[str, dict[str, bool]], as_of: date) -> int:
    """New chronic patients (first fill of a chronic class within the window) and patients
    below the adherence threshold, for customers with care_reminders consent."""
    index_key = platform.keyring.index_key("crm_task")
    window = timedelta(days=settings.followup_new_chronic_days + 30)
    wanted: list[tuple[int, str, str, str, date]] = []
    for i, cid in enumerate(ids):
        if keys[i] is None or not gates.may_remind(consents.get(cid, {})):
            continue
        t = traits[i]
        for cls, first in t.get("class_first_fill", {}).items():
            d = date.fromisoformat(first)
            if as_of - window <= d <= as_of:
                wanted.append((i, "new_chronic", cls, task_ref(index_key, "new_chronic", cid, cls),
                               d + timedelta(days=settings.followup_new_chronic_days)))
        for cls in t.get("nonadherent_classes", []):
            wanted.append((i, "low_adherence", cls,
                           task_ref(index_key, "low_adherence", cid, cls, str(as_of.year)),
                           as_of + timedelta(days=settings.followup_low_adherence_days)))
    if not wanted:
        return 0
    refs = [w[3] for w in wanted]
    have: set[str] = set()
    for start in range(0, len(refs), 500):
        have.update(session.scalars(select(CareTask.ref).where(CareTask.ref.in_(refs[start:start + 500]))))
    rows = []
    for i, kind, cls, ref, due in wanted:
        if ref in have:
            continue
        have.add(ref)
        tid = new_id()
        key = keys[i]
        if key is None:
            raise RuntimeError("a care task for a customer without a live data key")
        rows.append({"id": tid, "customer_id": ids[i], "kind": kind, "ref": ref, "due_on": due,
                     "status": "open", "data_key_id": key[0],
                     "detail_ct": fields.encrypt_json(key[1], {"class": cls},
                                                      fields.field_aad("crm_care_tasks", "detail_ct", tid)),
                     "outcome": None, "completed_at": None, "completed_by": None,
                     "created_at": datetime.now(UTC)})
    insert_rows(session, _table(CareTask), rows)
    return len(rows)
