"""`cdp crm refresh`: every CRM output computed from the data as of one day.

A pass over the customers (decrypt, reduce to traits, accrue loyalty points), the
population-wide steps (RFM quintiles, the BG/NBD and Gamma-Gamma fits and scores, point
expiry, tiers), a second pass writing profiles and segment entries and exits, then care
tasks and complaint tickets (docs/crm.md, "How the refresh runs"). The caller owns the
transaction; everything here only flushes.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import hmac
import logging
import time as _time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import orjson
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from cdp.audit.log import AuditEntry, record
from cdp.crm import clv, complaints, gates, loyalty
from cdp.crm.facts import iter_fact_chunks
from cdp.crm.models import CareTask, CrmProfile, ModelFit, SegmentMember
from cdp.crm.models import table as _table
from cdp.crm.segments import Segment, load_segments
from cdp.crm.settings import CrmSettings, load_settings
from cdp.crm.spill import Spill
from cdp.crm.traits import Rfm, base_traits, quintile_scores
from cdp.crypto import fields
from cdp.db import new_id
from cdp.db.bulk import insert_rows
from cdp.identity.models import Customer

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


BUYER, OBJECTING = 1, 2  # flag bits per customer


class _Population:
    """What the population-wide steps need of each customer, as a few numbers in compact
    arrays (one entry per active customer, in id order; 37 bytes): never the traits, nor
    the id (the spill holds both, read back in the same order). A purchase is a whole day,
    so the models' inputs are day counts: t_x = age - recency, frequency = x + 1. The
    arrays are allocated once for the customers counted before the pass (grown if more
    come), not grown customer by customer: growing leaves holes in the heap."""

    COLUMNS = (("flags", np.int8),  # BUYER | OBJECTING
               ("recency", np.int32),  # days from the last purchase to as_of
               ("x", np.int32),  # repeat purchase days
               ("age", np.int32),  # days from the first purchase to as_of
               ("monetary", np.float64), ("mean_repeat", np.float64), ("mean_all", np.float64))

    def __init__(self, capacity: int) -> None:
        self.n = 0
        self._cols = {name: np.zeros(max(capacity, 1), dtype=dt) for name, dt in self.COLUMNS}

    def __len__(self) -> int:
        return self.n

    def add(self, rfm: Rfm, t: dict[str, Any], objecting: bool, as_of: date) -> None:
        i = self.n
        if i == self._cols["flags"].size:
            for name, col in self._cols.items():
                grown = np.zeros(2 * col.size, dtype=col.dtype)
                grown[:i] = col
                self._cols[name] = grown
        self.n = i + 1
        days = rfm.days
        c = self._cols
        c["flags"][i] = (BUYER if days else 0) | (OBJECTING if objecting else 0)
        if not days:
            return  # zeros
        n = len(days)
        c["recency"][i] = t["recency_days"]
        c["x"][i] = n - 1
        c["age"][i] = (as_of - days[0]).days
        c["monetary"][i] = float(t["monetary"])
        c["mean_repeat"][i] = sum(rfm.day_amounts[1:]) / (n - 1) if n > 1 else 0.0
        c["mean_all"][i] = sum(rfm.day_amounts) / n

    def raw(self, name: str) -> np.ndarray:
        return self._cols[name][:self.n]

    def column(self, name: str, idx: np.ndarray) -> np.ndarray:
        """One array at ``idx``, as float64 (the values the steps compute on)."""
        return self._cols[name][idx].astype(np.float64)


@dataclass
class _Scores:
    """The model scores of the scored customers (in order): per customer the index of its
    distinct (x, t_x, T) row, its 12-month value and value score; per distinct row the
    probability alive and expected purchases."""

    row: np.ndarray  # int32 per scored customer
    clv_12m: np.ndarray  # float64 per scored customer
    value_score: np.ndarray  # int8 per scored customer
    p_alive: np.ndarray  # per distinct row
    expected_90d: np.ndarray  # per distinct row


def _score(report: RefreshReport, settings: CrmSettings, pop: _Population, idx: np.ndarray,
           as_of: date, session: Session) -> _Scores | None:
    """Fit both models on the scored customers (``idx``) and score them; None when they
    cannot be fitted (too few customers or purchases)."""
    unit = DAYS_PER_UNIT[settings.time_unit]
    x_days = pop.raw("x")[idx].astype(np.int64)
    age = pop.raw("age")[idx].astype(np.int64)
    tx_days = age - pop.raw("recency")[idx]
    # identical (x, t_x, T) rows merged: whole days packed in one integer, whose order is
    # the rows' lexicographic order (each field < 2**20 days or purchases)
    key = (x_days << 40) | (tx_days << 20) | age
    del age, tx_days
    ukey, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    del key
    mask = (1 << 20) - 1
    ux = (ukey >> 40).astype(np.float64)
    utx = ((ukey >> 20) & mask).astype(np.float64) / unit
    uT = (ukey & mask).astype(np.float64) / unit
    try:
        params = clv.fit_bgnbd(ux, utx, uT, weights=counts.astype(np.float64))
    except ValueError:
        return None
    if not all(np.isfinite([params.r, params.alpha, params.a, params.b])):
        return None
    report.bg_nbd = {"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b,
                     "log_likelihood": params.log_likelihood}
    session.add(ModelFit(model="bg_nbd", as_of=as_of, customers=int(idx.size),
                         params={**report.bg_nbd, "time_unit": settings.time_unit}))
    sc = clv.score_rows(params, ux, utx, uT, horizon=settings.horizon_days / unit,
                        months=settings.value_months, days_per_unit=unit,
                        annual_discount=settings.discount_rate)
    freq = x_days.astype(np.float64)
    del x_days
    mean_rep = pop.column("mean_repeat", idx)
    try:
        gg = clv.fit_gamma_gamma(freq, mean_rep)
        spend = clv.expected_spend(gg, freq, mean_rep)
        report.gamma_gamma = {"p": gg.p, "q": gg.q, "v": gg.v, "log_likelihood": gg.log_likelihood}
        session.add(ModelFit(model="gamma_gamma", as_of=as_of, customers=int(np.sum(freq > 0)),
                             params=report.gamma_gamma))
    except ValueError:
        # too few repeat buyers: each customer's own mean spend per purchase day
        spend = pop.column("mean_all", idx)
    del freq, mean_rep
    value = sc.discounted_purchases[inv] * spend
    return _Scores(inv.astype(np.int32), value, quintile_scores(value).astype(np.int8),
                   sc.p_alive, sc.expected)


@dataclass
class _CareCandidate:
    customer_id: str
    key_id: str
    dek: bytes
    kind: str
    cls: str
    ref: str
    due: date


def _care_candidates(index_key: bytes, settings: CrmSettings, cid: str, key: tuple[str, bytes],
                     t: dict[str, Any], as_of: date) -> list[_CareCandidate]:
    """New chronic patients (first fill of a chronic class within the window) and patients
    below the adherence threshold (the caller checks care_reminders consent)."""
    window = timedelta(days=settings.followup_new_chronic_days + 30)
    out = []
    for cls, first in t.get("class_first_fill", {}).items():
        d = date.fromisoformat(first)
        if as_of - window <= d <= as_of:
            out.append(_CareCandidate(cid, key[0], key[1], "new_chronic", cls,
                                      task_ref(index_key, "new_chronic", cid, cls),
                                      d + timedelta(days=settings.followup_new_chronic_days)))
    for cls in t.get("nonadherent_classes", []):
        out.append(_CareCandidate(cid, key[0], key[1], "low_adherence", cls,
                                  task_ref(index_key, "low_adherence", cid, cls, str(as_of.year)),
                                  as_of + timedelta(days=settings.followup_low_adherence_days)))
    return out


def refresh(session: Session, platform: Any, as_of: date | None = None, *,
            actor: str = "system") -> RefreshReport:
    """Compute every CRM output as of ``as_of`` (today in the CRM time zone by default).

    Two passes over the customers, in id order. The first reads each chunk of customers'
    orders and profile (decrypted), reduces each customer to its own traits, accrues loyalty
    points, and keeps only numbers for the population-wide steps; the traits go to an
    encrypted spill file (cdp.crm.spill). Then the fits, quintiles and tiers; the second
    pass reads the spill back and writes profiles and segment entries and exits, chunk by
    chunk. Memory holds a chunk plus a few numbers per customer."""
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

    with Spill() as spill:
        pop = _first_pass(session, platform, settings, as_of, stamp, report, spill)
        lap("read_traits_accrue_care")
        n = len(pop)
        flags = pop.raw("flags")
        objecting = (flags & OBJECTING).astype(bool)
        buyers = (flags & BUYER).astype(bool)
        scored = buyers & ~objecting
        report.profiling_objections = int(objecting.sum())
        scored_idx = np.nonzero(scored)[0]
        report.scored = int(scored_idx.size)
        rfm_scores = np.zeros((3, n), dtype=np.int8)
        scores: _Scores | None = None
        if scored_idx.size:
            for row, (col, sign) in enumerate((("recency", -1.0), ("frequency", 1.0),
                                               ("monetary", 1.0))):
                vals = (pop.column("x", scored_idx) + 1.0 if col == "frequency"
                        else pop.column(col, scored_idx))
                rfm_scores[row, scored_idx] = quintile_scores(sign * vals)
            lap("rfm")
            scores = _score(report, settings, pop, scored_idx, as_of, session)
            lap("fit_score")
        del pop, scored_idx  # from here on: flags, RFM scores and the scores
        _release_freed_heap()
        report.points_expired = loyalty.expire_due(session, None, stamp)
        lap("expiry")

        # profiles are replaced whole (a merged or erased customer's profile goes with it)
        session.execute(delete(CrmProfile))
        memo = _SegmentMemo(segments)
        j = 0  # the next scored customer's position in the scores
        for start, part in zip(range(0, n, WRITE_CHUNK), _chunks(spill, WRITE_CHUNK), strict=True):
            j = _write_chunk(session, settings, memo, start, part, flags, rfm_scores, scores, j,
                             as_of, now, stamp, report)
        # stays of customers no longer active (merged, erased) end too
        gone = select(Customer.id).where(Customer.status != "active")
        res = session.execute(update(SegmentMember)
                              .where(SegmentMember.left_at.is_(None),
                                     SegmentMember.customer_id.in_(gone))
                              .values(left_at=stamp)
                              .execution_options(synchronize_session=False))
        report.segments_left += int(getattr(res, "rowcount", 0) or 0)
        lap("tiers_segments_profiles")

    report.complaints_opened = complaints.from_interactions(session, platform, settings, stamp)
    lap("complaints")
    session.flush()
    record(session, AuditEntry(actor=actor, action="crm.refresh", detail={
        "as_of": report.as_of, "customers": report.customers, "profiles": report.profiles,
        "segments_entered": report.segments_entered, "segments_left": report.segments_left}))
    log.info("crm refresh as of %s: %d customers", report.as_of, report.customers)
    return report


WRITE_CHUNK = 5000


def _release_freed_heap() -> None:
    """Hand the memory the population steps freed back to the system (glibc's
    ``malloc_trim``; elsewhere nothing). Their temporaries (sorts, ranks, the merged
    rows: tens of bytes a customer) come from the heap once numpy's large blocks have
    raised glibc's mmap threshold, and glibc keeps a freed heap resident: the second pass
    would start from the steps' peak."""
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None).malloc_trim(0)
MEMO_MAX = 4096


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    part: list[Any] = []
    for item in items:
        part.append(item)
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part


def _first_pass(session: Session, platform: Any, settings: CrmSettings, as_of: date,
                stamp: datetime, report: RefreshReport, spill: Spill) -> _Population:
    pop = _Population(session.scalar(select(func.count()).select_from(Customer)
                                     .where(Customer.status == "active")) or 0)
    index_key = platform.keyring.index_key("crm_task")
    pending_orders: list[tuple[str, list[Any]]] = []
    care: list[_CareCandidate] = []
    for part in iter_fact_chunks(session, platform, settings):
        consents = gates.newest_consents(session, [f.customer_id for f in part])
        for f in part:
            t, rfm = base_traits(f, settings, as_of)
            cid = f.customer_id
            mine = consents.get(cid, {})
            pop.add(rfm, t, gates.objects_to_profiling(mine), as_of)
            key = (f.key_id, f.dek) if f.key_id and f.dek else None
            spill.append([cid, key[0] if key else None, key[1].hex() if key else None, t])
            if key is not None and gates.may_remind(mine):
                care.extend(_care_candidates(index_key, settings, cid, key, t, as_of))
            orders = [o for o in f.orders if o.day <= as_of]
            if orders:
                pending_orders.append((cid, orders))
        if len(pending_orders) >= 2000:
            # with the care tasks of the same customers: a task's reference names its
            # customer, so batches never share one
            _accrue(session, settings, pending_orders, stamp, report)
            report.care_tasks_created += _care_tasks(session, platform, care)
            pending_orders, care = [], []
    _accrue(session, settings, pending_orders, stamp, report)
    report.care_tasks_created += _care_tasks(session, platform, care)
    report.customers = len(pop)
    return pop


def _accrue(session: Session, settings: CrmSettings, pending: list[tuple[str, list[Any]]],
            stamp: datetime, report: RefreshReport) -> None:
    c = loyalty.accrue(session, settings, pending, stamp)
    report.points_accrued += c["accrued"]
    report.points_adjusted += c["adjusted"]


class _SegmentMemo:
    """Segment membership by the values of the traits the definitions use: a predicate reads
    only those, and most customers share them (the RFM segments: 125 score triples), so the
    segments using one set of traits are decided once per distinct combination of values."""

    def __init__(self, segments: dict[str, Segment]):
        groups: dict[tuple[str, ...], list[tuple[str, Any]]] = {}
        for name, seg in segments.items():
            groups.setdefault(tuple(sorted(seg.traits)), []).append((name, seg.predicate))
        self.groups: list[tuple[tuple[str, ...], list[tuple[str, Any]], dict[Any, tuple[str, ...]]]] = [
            (used, preds, {}) for used, preds in groups.items()]

    def members(self, t: dict[str, Any]) -> list[str]:
        out: list[str] = []
        for used, preds, seen in self.groups:
            key = tuple(tuple(v) if isinstance(v := t.get(n), list) else v for n in used)
            hit = seen.get(key)
            if hit is None:
                hit = tuple(name for name, predicate in preds if predicate(t))
                if len(seen) < MEMO_MAX:  # a continuous trait (p_alive) never repeats: bounded
                    seen[key] = hit
            out.extend(hit)
        return out


def _write_chunk(session: Session, settings: CrmSettings, memo: _SegmentMemo, start: int,
                 part: list[Any], flags: np.ndarray, rfm_scores: np.ndarray,
                 scores: _Scores | None, j: int, as_of: date, now: datetime, stamp: datetime,
                 report: RefreshReport) -> int:
    """Tiers of these customers (``part``: their spilled records, customers ``start`` on)
    (their points are all accrued); scores, tier and segments into each one's traits; their profile rows;
    their segment entries and exits (against their open stays). Returns the position in
    ``scores`` of the next scored customer."""
    ids = [rec[0] for rec in part]
    tiers = loyalty.update_tiers(session, settings, ids, as_of)
    open_stays: dict[str, dict[str, int]] = {}
    leaving: list[int] = []
    for i in range(0, len(ids), 500):
        for rid, seg_name, cid in session.execute(
                select(SegmentMember.id, SegmentMember.segment, SegmentMember.customer_id)
                .where(SegmentMember.left_at.is_(None),
                       SegmentMember.customer_id.in_(ids[i:i + 500]))
                .order_by(SegmentMember.id)):
            stays = open_stays.setdefault(cid, {})
            if seg_name in stays:
                leaving.append(rid)  # a second open stay in one segment: the later one ends
            else:
                stays[seg_name] = rid
    profiles: list[dict[str, Any]] = []
    entering: list[dict[str, Any]] = []
    for i, (cid, key_id, dek_hex, t) in enumerate(part, start):
        if rfm_scores[0, i]:
            t["r_score"], t["f_score"], t["m_score"] = (int(v) for v in rfm_scores[:, i])
        objecting = bool(flags[i] & OBJECTING)
        scored = bool(flags[i] & BUYER) and not objecting
        if scored:
            if scores is not None:
                row = int(scores.row[j])
                pa = float(scores.p_alive[row])
                t.update(p_alive=round(pa, 4), churn_score=round(1.0 - pa, 4),
                         expected_90d=round(float(scores.expected_90d[row]), 4),
                         clv_12m=round(float(scores.clv_12m[j]), 2),
                         value_score=int(scores.value_score[j]))
            j += 1
        t["tier"] = tiers.get(cid)
        member_of = memo.members(t) if scored else []
        stays = open_stays.get(cid, {})
        for name in member_of:
            if name not in stays:
                entering.append({"segment": name, "customer_id": cid, "entered_at": stamp,
                                 "left_at": None})
        leaving.extend(rid for name, rid in stays.items() if name not in member_of)
        t["segments"] = sorted(member_of)
        if key_id is None:
            continue
        due = [r["due"] for r in t["refills"]]
        profiles.append({
            "customer_id": cid, "as_of": as_of, "computed_at": now, "data_key_id": key_id,
            "traits_ct": fields.encrypt(bytes.fromhex(dek_hex), orjson.dumps(t),
                                        fields.field_aad("crm_profiles", "traits_ct", cid)),
            "r_score": t.get("r_score"), "f_score": t.get("f_score"), "m_score": t.get("m_score"),
            "p_alive": t.get("p_alive"), "clv_12m": t.get("clv_12m"),
            "value_score": t.get("value_score"), "profiling_objection": objecting,
            "next_refill_due": date.fromisoformat(min(due)) if due else None,
        })
    for i in range(0, len(leaving), 500):
        session.execute(update(SegmentMember)
                        .where(SegmentMember.id.in_(leaving[i:i + 500]))
                        .values(left_at=stamp).execution_options(synchronize_session=False))
    insert_rows(session, _table(SegmentMember), entering)
    insert_rows(session, _table(CrmProfile), profiles)
    report.segments_entered += len(entering)
    report.segments_left += len(leaving)
    report.profiles += len(profiles)
    return j


def _care_tasks(session: Session, platform: Any, wanted: list[_CareCandidate]) -> int:
    """The care tasks of ``wanted`` not created yet (one per patient, kind and subject)."""
    if not wanted:
        return 0
    refs = [w.ref for w in wanted]
    have: set[str] = set()
    for start in range(0, len(refs), 500):
        have.update(session.scalars(select(CareTask.ref).where(CareTask.ref.in_(refs[start:start + 500]))))
    rows = []
    for w in wanted:
        if w.ref in have:
            continue
        have.add(w.ref)
        tid = new_id()
        rows.append({"id": tid, "customer_id": w.customer_id, "kind": w.kind, "ref": w.ref,
                     "due_on": w.due, "status": "open", "data_key_id": w.key_id,
                     "detail_ct": fields.encrypt_json(w.dek, {"class": w.cls},
                                                      fields.field_aad("crm_care_tasks", "detail_ct", tid)),
                     "outcome": None, "completed_at": None, "completed_by": None,
                     "created_at": datetime.now(UTC)})
    insert_rows(session, _table(CareTask), rows)
    return len(rows)
