"""CRM API under /v1/crm (and /v1/customers/{id}/loyalty): segments, members, retention,
refill reminders, care tasks, loyalty, complaints, reports.

The guard decides (role, resource, action, purpose) before each body; the gates in
cdp/crm/gates.py decide per customer; every list of customers is audited one entry per
customer listed, in the request's transaction. Aggregates never carry a customer id and
suppress counts below the policy minimum.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from cdp.access.guard import AccessContext, current_access, protected
from cdp.audit.log import record
from cdp.crm import complaints as complaints_svc
from cdp.crm import gates, loyalty, reads
from cdp.crm.models import CareTask, Complaint, CrmProfile
from cdp.crm.refresh import today
from cdp.crm.schemas import (
    ComplaintIn,
    ComplaintList,
    ComplaintOut,
    ComplaintQuery,
    DaysQuery,
    DueQuery,
    FlowQuery,
    LimitQuery,
    LoyaltyOut,
    MemberList,
    MembersQuery,
    MonthQuery,
    RedeemIn,
    RefreshIn,
    ReminderList,
    ReportOut,
    RetentionList,
    SegmentDetail,
    SegmentList,
    TaskDoneIn,
    TaskList,
    TaskQuery,
    TransitionIn,
)
from cdp.crm.segments import Segment, load_segments
from cdp.crm.settings import CrmSettings, load_settings
from cdp.errors import CdpError, Forbidden, NotFound
from cdp.http import current_platform, db_session
from cdp.http.openapi import api_doc
from cdp.http.parsing import parse
from cdp.identity.models import Customer

bp = Blueprint("crm", __name__)


def _settings() -> CrmSettings:
    return load_settings(current_platform().policies)


def _segment(name: str) -> Segment:
    seg = load_segments(current_platform().policies).get(name)
    if seg is None:
        raise NotFound("no such segment")
    return seg


def _audit_list(ctx: AccessContext, action: str, customer_ids: list[str],
                categories: tuple[str, ...], detail: dict[str, Any]) -> None:
    """One audit entry per customer listed, and one for the list itself."""
    view = {c: "plain" for c in categories}
    record(db_session(), *[
        ctx.audit(action=action, customer_id=cid, categories=categories, view=view, detail=detail)
        for cid in customer_ids
    ], ctx.audit(action=action, detail={**detail, "listed": len(customer_ids)}))


def _customer_gate(ctx: AccessContext, customer_id: str, action: str) -> Customer:
    """The customer, if the purpose may touch them (exists, active, purpose consent)."""
    session = db_session()

    def deny(reason: str, exc: CdpError) -> CdpError:
        record(session, ctx.audit(action=action, customer_id=customer_id[:32], decision="deny",
                                  detail={"reason": reason}))
        return exc

    c = session.get(Customer, customer_id) if customer_id.isalnum() and len(customer_id) <= 32 else None
    if c is None or c.status != "active":
        raise deny("not_found", NotFound("no such customer"))
    needed = ctx.policy.required_consent(ctx.purpose)
    if needed:
        consents = gates.newest_consents(session, [customer_id]).get(customer_id, {})
        ok = gates.may_market(consents, health=False) if needed == gates.MARKETING else consents.get(needed)
        if not ok:
            raise deny("consent_missing", Forbidden(
                f"purpose {ctx.purpose!r} needs the customer's {needed!r} consent, which is not granted",
                code="consent_required"))
    return c


# -- segments ------------------------------------------------------------------------------
@bp.get("/crm/segments")
@api_doc(response=SegmentList, purpose=True, tags=["crm"])
@protected("crm_segments", "read", purpose="required")
def list_segments() -> Any:
    """Every segment with its current size (sizes below the policy minimum suppressed)."""
    settings, sizes = _settings(), reads.segment_sizes(db_session())
    segs = load_segments(current_platform().policies)
    out = []
    for name, seg in sorted(segs.items()):
        n = gates.suppressed(sizes.get(name, 0), settings.min_count)
        out.append({"name": name, "description": seg.description, "health": seg.health,
                    "size": n, "suppressed": n is None})
    record(db_session(), current_access().audit(action="crm.segments.list",
                                                detail={"segments": len(out)}))
    return jsonify({"segments": out, "min_count": settings.min_count})


@bp.get("/crm/segments/<name>")
@api_doc(query=FlowQuery, response=SegmentDetail, purpose=True, tags=["crm"])
@protected("crm_segments", "read", purpose="required")
def segment_detail(name: str) -> Any:
    """A segment's size and its entries and exits since a day (default: 7 days ago)."""
    q = parse(FlowQuery, request.args.to_dict())
    seg, settings = _segment(name), _settings()
    since_day = q.since or (today(settings) - timedelta(days=7))
    since = datetime.combine(since_day, time(), settings.tz).astimezone(UTC)
    size = reads.segment_sizes(db_session()).get(name, 0)
    flow = reads.segment_flow(db_session(), name, since)
    n = gates.suppressed(size, settings.min_count)
    record(db_session(), current_access().audit(action="crm.segments.read", detail={"segment": name}))
    return jsonify({"name": name, "description": seg.description, "health": seg.health,
                    "size": n, "suppressed": n is None, "since": since_day.isoformat(),
                    "entered": gates.suppressed(flow["entered"], settings.min_count),
                    "left": gates.suppressed(flow["left"], settings.min_count)})


@bp.get("/crm/segments/<name>/members")
@api_doc(query=MembersQuery, response=MemberList, purpose=True, tags=["crm"])
@protected("crm_members", "read", purpose="required")
def segment_members(name: str) -> Any:
    """Members marketing may receive: marketing consent, and marketing_health for a segment
    over health traits; never a customer objecting to profiling. Each member listed is audited."""
    q = parse(MembersQuery, request.args.to_dict())
    seg, settings = _segment(name), _settings()
    ctx, session = current_access(), db_session()
    since = (datetime.combine(q.entered_since, time(), settings.tz).astimezone(UTC)
             if q.entered_since else None)
    ids, held = reads.marketable_members(session, seg, limit=q.limit, after=q.after,
                                         entered_since=since)
    scores = {r.customer_id: r for r in session.execute(
        select(CrmProfile.customer_id, CrmProfile.r_score, CrmProfile.f_score, CrmProfile.m_score,
               CrmProfile.p_alive, CrmProfile.clv_12m, CrmProfile.value_score)
        .where(CrmProfile.customer_id.in_(ids)))} if ids else {}
    members = []
    for cid in ids:
        s = scores.get(cid)
        members.append({"customer_id": cid, "scores": None if s is None else {
            "r_score": s.r_score, "f_score": s.f_score, "m_score": s.m_score,
            "p_alive": s.p_alive, "clv_12m": s.clv_12m, "value_score": s.value_score}})
    cats = ("crm_scores", "health") if seg.health else ("crm_scores",)
    _audit_list(ctx, "crm.segments.members", ids, cats, {"segment": name, "held_back": held})
    return jsonify({"segment": name, "members": members, "held_back": held,
                    "next_after": ids[-1] if len(ids) == q.limit else None})


# -- retention, birthdays -----------------------------------------------------------------
@bp.get("/crm/retention")
@api_doc(query=LimitQuery, response=RetentionList, purpose=True, tags=["crm"])
@protected("crm_retention", "read", purpose="required")
def retention() -> Any:
    """Valuable customers whose probability alive fell below the policy threshold (the
    churn warning), most valuable first; only customers with marketing consent."""
    q = parse(LimitQuery, request.args.to_dict())
    rows = reads.retention_list(db_session(), _settings(), limit=q.limit)
    _audit_list(current_access(), "crm.retention.list", [r["customer_id"] for r in rows],
                ("crm_scores",), {})
    return jsonify({"customers": rows})


@bp.get("/crm/birthdays")
@api_doc(query=DaysQuery, response=RetentionList, purpose=True, tags=["crm"])
@protected("crm_retention", "read", purpose="required")
def birthdays() -> Any:
    """Customers with marketing consent whose birthday is in the next N days."""
    q = parse(DaysQuery, request.args.to_dict())
    rows = reads.birthdays(db_session(), current_platform(), today(_settings()), q.days)
    _audit_list(current_access(), "crm.birthdays.list", [r["customer_id"] for r in rows],
                ("demographic", "loyalty"), {"days": q.days})
    return jsonify({"customers": rows})


# -- care: refills and tasks --------------------------------------------------------------
@bp.get("/crm/refills")
@api_doc(query=DueQuery, response=ReminderList, purpose=True, tags=["crm"])
@protected("crm_care", "read", purpose="required")
def refills() -> Any:
    """Refills due within N days (and up to 30 days overdue), only for customers whose
    newest care_reminders consent is granted."""
    q = parse(DueQuery, request.args.to_dict())
    rows = reads.refill_reminders(db_session(), current_platform(), _settings(),
                                  today(_settings()), q.due_within)
    _audit_list(current_access(), "crm.reminders.list",
                sorted({r["customer_id"] for r in rows}), ("health",), {"due_within": q.due_within})
    return jsonify({"reminders": rows})


def _task_json(t: CareTask, keys: dict[str, bytes]) -> dict[str, Any]:
    from cdp.crypto import fields

    detail = None
    if t.detail_ct is not None and t.data_key_id in keys:
        detail = fields.decrypt_json(keys[t.data_key_id], t.detail_ct,
                                     fields.field_aad("crm_care_tasks", "detail_ct", t.id))
    return {"id": t.id, "customer_id": t.customer_id, "kind": t.kind, "due_on": t.due_on.isoformat(),
            "status": t.status, "detail": detail, "outcome": t.outcome,
            "completed_at": t.completed_at.isoformat() if t.completed_at else None}


@bp.get("/crm/care-tasks")
@api_doc(query=TaskQuery, response=TaskList, purpose=True, tags=["crm"])
@protected("crm_care", "read", purpose="required")
def care_tasks() -> Any:
    """The care team's task list (new chronic patients, low adherence, complaint follow-ups),
    earliest due first; open tasks only for customers with care_reminders consent."""
    q = parse(TaskQuery, request.args.to_dict())
    session = db_session()
    tasks = list(session.scalars(select(CareTask).where(CareTask.status == q.status)
                                 .order_by(CareTask.due_on, CareTask.id).limit(q.limit * 2)))
    consents = gates.newest_consents(session, {t.customer_id for t in tasks}, (gates.CARE,))
    tasks = [t for t in tasks if t.kind == "complaint_followup"
             or gates.may_remind(consents.get(t.customer_id, {}))][: q.limit]
    keys = current_platform().keys.load(session, {t.data_key_id for t in tasks if t.data_key_id})
    out = [_task_json(t, keys) for t in tasks]
    _audit_list(current_access(), "crm.care_tasks.list", sorted({t.customer_id for t in tasks}),
                ("health",), {"status": q.status})
    return jsonify({"tasks": out})


@bp.post("/crm/care-tasks/<task_id>/complete")
@api_doc(body=TaskDoneIn, purpose=True, tags=["crm"])
@protected("crm_care", "write", purpose="required")
def complete_task(task_id: str) -> Any:
    """Complete a care task with its outcome (audited)."""
    body = parse(TaskDoneIn, request.get_json(silent=True))
    session, ctx = db_session(), current_access()
    t = session.get(CareTask, task_id) if task_id.isalnum() and len(task_id) <= 32 else None
    if t is None:
        raise NotFound("no such task")
    if t.status == "done":
        raise CdpError("the task is already completed", code="task_done", status=409)
    t.status, t.outcome = "done", body.outcome
    t.completed_at, t.completed_by = datetime.now(UTC), ctx.principal.actor
    session.flush()
    record(session, ctx.audit(action="crm.care_tasks.complete", customer_id=t.customer_id,
                              categories=("health",), detail={"task": t.id, "kind": t.kind,
                                                               "outcome": body.outcome}))
    return jsonify(_task_json(t, {}))


# -- loyalty ------------------------------------------------------------------------------
@bp.get("/customers/<customer_id>/loyalty")
@api_doc(response=LoyaltyOut, purpose=True, tags=["crm"])
@protected("crm_loyalty", "read", purpose="required")
def loyalty_read(customer_id: str) -> Any:
    """Points balance, tier and the ledger (newest first)."""
    ctx = current_access()
    _customer_gate(ctx, customer_id, "crm.loyalty.read")
    session = db_session()
    out = {"customer_id": customer_id, **loyalty.summary(session, customer_id),
           "ledger": loyalty.ledger(session, customer_id)}
    record(session, ctx.audit(action="crm.loyalty.read", customer_id=customer_id,
                              categories=("loyalty",), view={"loyalty": "plain"}))
    return jsonify(out)


@bp.post("/customers/<customer_id>/loyalty/redeem")
@api_doc(body=RedeemIn, response=LoyaltyOut, purpose=True, tags=["crm"], status=201)
@protected("crm_loyalty", "write", purpose="required")
def loyalty_redeem(customer_id: str) -> Any:
    """Spend points (oldest first); 409 when the balance is short. An idempotency key
    makes a retry a no-op."""
    body = parse(RedeemIn, request.get_json(silent=True))
    ctx = current_access()
    _customer_gate(ctx, customer_id, "crm.loyalty.redeem")
    session = db_session()
    entry = loyalty.redeem(session, customer_id, body.points, actor=ctx.principal.actor,
                           now=datetime.now(UTC), key=body.idempotency_key)
    record(session, ctx.audit(action="crm.loyalty.redeem", customer_id=customer_id,
                              categories=("loyalty",), detail={"points": body.points, "entry": entry.id}))
    out = {"customer_id": customer_id, **loyalty.summary(session, customer_id),
           "ledger": loyalty.ledger(session, customer_id)}
    return jsonify(out), 201


# -- complaints ---------------------------------------------------------------------------
@bp.get("/crm/complaints")
@api_doc(query=ComplaintQuery, response=ComplaintList, purpose=True, tags=["crm"])
@protected("crm_complaints", "read", purpose="required")
def list_complaints() -> Any:
    """Complaints, oldest first, with SLA flags and, for an adverse drug reaction, the
    regulatory reporting deadline."""
    q = parse(ComplaintQuery, request.args.to_dict())
    stmt = select(Complaint).order_by(Complaint.opened_at, Complaint.id).limit(q.limit)
    if q.state:
        stmt = stmt.where(Complaint.state == q.state)
    if q.customer_id:
        stmt = stmt.where(Complaint.customer_id == q.customer_id)
    rows = list(db_session().scalars(stmt))
    settings, now = _settings(), datetime.now(UTC)
    out = [complaints_svc.as_json(c, settings, now) for c in rows]
    _audit_list(current_access(), "crm.complaints.list", sorted({c.customer_id for c in rows}),
                ("complaints",), {})
    return jsonify({"complaints": out})


@bp.post("/crm/complaints")
@api_doc(body=ComplaintIn, response=ComplaintOut, purpose=True, tags=["crm"], status=201)
@protected("crm_complaints", "write", purpose="required")
def create_complaint() -> Any:
    """Open a complaint (audited). A privacy complaint with ``open_dsr`` opens a data
    subject request (access) for the customer."""
    body = parse(ComplaintIn, request.get_json(silent=True))
    ctx = current_access()
    _customer_gate(ctx, body.customer_id, "crm.complaint.open")
    session, platform, settings = db_session(), current_platform(), _settings()
    data_key = None
    if body.description:
        from cdp.crypto.models import DataKey

        key_row = session.scalar(select(DataKey).where(
            DataKey.customer_id == body.customer_id, DataKey.wrapped.is_not(None))
            .order_by(DataKey.created_at.desc()).limit(1))
        if key_row is not None:
            data_key = (key_row.id, platform.keys.unwrap(key_row))
    now = datetime.now(UTC)
    c = complaints_svc.open_complaint(
        session, settings, customer_id=body.customer_id, category=body.category,
        channel=body.channel, opened_at=now, actor=ctx.principal.actor, priority=body.priority,
        adr=body.adr.model_dump() if body.adr else None, description=body.description,
        data_key=data_key, audit_context=ctx.audit_context())
    if body.open_dsr:
        if body.category != "privacy":
            raise CdpError("only a privacy complaint opens a data subject request",
                           code="not_privacy", status=422)
        from cdp.rights.service import create_request

        req = create_request(session, platform, body.customer_id, "access",
                             actor=ctx.principal.actor, channel="complaint",
                             detail={"complaint": c.id}, role=ctx.role,
                             request_id=ctx.audit_context()["request_id"])
        c.dsr_id = req.id
    session.flush()
    return jsonify(complaints_svc.as_json(c, settings, now)), 201


@bp.post("/crm/complaints/<complaint_id>/transition")
@api_doc(body=TransitionIn, response=ComplaintOut, purpose=True, tags=["crm"])
@protected("crm_complaints", "write", purpose="required")
def transition_complaint(complaint_id: str) -> Any:
    """Move a complaint to another state (409 when not allowed); audited."""
    body = parse(TransitionIn, request.get_json(silent=True))
    ctx, session, settings = current_access(), db_session(), _settings()
    c = complaints_svc.get(session, complaint_id)
    now = datetime.now(UTC)
    complaints_svc.transition(session, settings, c, body.to, actor=ctx.principal.actor, now=now,
                              satisfaction=body.satisfaction, audit_context=ctx.audit_context())
    return jsonify(complaints_svc.as_json(c, settings, now))


# -- reports (aggregates) -----------------------------------------------------------------
@bp.get("/crm/reports/complaints")
@api_doc(query=MonthQuery, response=ReportOut, purpose=True, tags=["crm"])
@protected("crm_reports", "read", purpose="required")
def complaints_report() -> Any:
    """Complaints of a month by category and channel: volume, SLA met, satisfaction;
    cells below the policy minimum suppressed."""
    q = parse(MonthQuery, request.args.to_dict())
    settings = _settings()
    rep = complaints_svc.monthly_report(db_session(), settings, q.month, datetime.now(UTC),
                                        settings.min_count)
    record(db_session(), current_access().audit(action="crm.reports.complaints",
                                                detail={"month": q.month}))
    return jsonify(rep)


@bp.get("/crm/reports/retention")
@api_doc(query=FlowQuery, response=ReportOut, purpose=True, tags=["crm"])
@protected("crm_reports", "read", purpose="required")
def retention_report() -> Any:
    """Per value score: customers and how many are lapsing; per segment: size, entries
    and exits since a day. Counts below the policy minimum suppressed."""
    q = parse(FlowQuery, request.args.to_dict())
    settings, session = _settings(), db_session()
    since_day = q.since or (today(settings) - timedelta(days=7))
    since = datetime.combine(since_day, time(), settings.tz).astimezone(UTC)
    by_value = {str(v): {k: gates.suppressed(n, settings.min_count) for k, n in d.items()}
                for v, d in reads.retention_counts(session, settings).items()}
    sizes = reads.segment_sizes(session)
    segs = {}
    for name in sorted(load_segments(current_platform().policies)):
        flow = reads.segment_flow(session, name, since)
        segs[name] = {"size": gates.suppressed(sizes.get(name, 0), settings.min_count),
                      "entered": gates.suppressed(flow["entered"], settings.min_count),
                      "left": gates.suppressed(flow["left"], settings.min_count)}
    record(session, current_access().audit(action="crm.reports.retention",
                                           detail={"since": since_day.isoformat()}))
    return jsonify({"since": since_day.isoformat(), "min_count": settings.min_count,
                    "by_value_score": by_value, "segments": segs})


@bp.post("/crm/refresh")
@api_doc(body=RefreshIn, response=ReportOut, tags=["crm"])
@protected("crm_refresh", "write")
def refresh_now() -> Any:
    """Recompute every CRM output now (counts in the answer, no personal data)."""
    from cdp.crm.refresh import refresh

    body = parse(RefreshIn, request.get_json(silent=True) or {})
    ctx = current_access()
    rep = refresh(db_session(), current_platform(), body.as_of, actor=ctx.principal.actor)
    return jsonify({k: v for k, v in rep.__dict__.items()})
