"""Compliance: audit explorer, chain status, break-glass review, heavy readers, the data
subject request queue with its timelines, retention."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import redirect, render_template, request, url_for
from sqlalchemy import func, select

from cdp.access import breakglass
from cdp.audit import queries
from cdp.audit.models import AuditCheckpoint, AuditEvent
from cdp.audit.verify import verify_log
from cdp.console.context import access, bp
from cdp.db import utcnow
from cdp.errors import ValidationError
from cdp.http import current_platform, db_session, request_id
from cdp.rights import service as rights
from cdp.rights.models import DsrRequest, RetainedRecord
from cdp.rights.policy import load_retention

FILTERS = ("customer_id", "actor", "action", "purpose", "since", "until")
PAGE = 200
# Days left at or under which a request is shown as due soon.
SOON_DAYS = 3


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("dates are YYYY-MM-DD or YYYY-MM-DDTHH:MM", code="bad_date") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@bp.get("/compliance/audit")
def audit_explorer() -> Any:
    ctx = access("audit", "read")
    f = {k: (request.args.get(k) or "").strip()[:128] for k in FILTERS}
    session = db_session()
    rows = queries.find_events(
        session, customer_id=f["customer_id"] or None, actor=f["actor"] or None,
        action=f["action"] or None, purpose=f["purpose"] or None,
        since=_when(f["since"]), until=_when(f["until"]), limit=PAGE,
        after_id=None,
    ) if any(f.values()) else list(reversed(list(session.scalars(
        select(AuditEvent).order_by(AuditEvent.id.desc()).limit(50)))))
    viewers: list[Any] = []
    if f["customer_id"]:
        viewers = list(session.execute(
            select(AuditEvent.actor, AuditEvent.role, AuditEvent.purpose,
                   func.count(), func.max(AuditEvent.at))
            .where(AuditEvent.customer_id == f["customer_id"],
                   AuditEvent.action.in_(queries.READ_ACTIONS), AuditEvent.decision == "allow")
            .group_by(AuditEvent.actor, AuditEvent.role, AuditEvent.purpose)
            .order_by(func.max(AuditEvent.at).desc())
        ))
    since = utcnow() - timedelta(days=30)
    grants = breakglass.break_glass_report(session, since=since)
    heavy = queries.heavy_readers(session, window=timedelta(minutes=10), threshold=50,
                                  since=utcnow() - timedelta(days=1))
    checkpoint = session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1))
    from cdp.audit.log import record

    record(session, ctx.audit(
        action="audit.read", customer_id=f["customer_id"] or None,
        detail={"filters": {k: v for k, v in f.items() if v and k != "customer_id"},
                "returned": len(rows), "via": "console"},
    ))
    return render_template("console/audit.html", f=f, rows=rows, viewers=viewers,
                           grants=grants, heavy=heavy, checkpoint=checkpoint)


@bp.get("/compliance/chain")
def chain_status() -> Any:
    """Verification of the whole log (loaded by the audit page through htmx)."""
    ctx = access("audit", "verify", purpose="optional")
    session = db_session()
    result = verify_log(session, current_platform().keyring.verify_key, workers=1)
    from cdp.audit.log import record

    record(session, ctx.audit(action="audit.verify",
                              detail={"ok": result.ok, "entries": result.entries, "via": "console"}))
    return render_template("console/_chain.html", result=result.as_dict())


def _days_left(req: DsrRequest) -> tuple[int, str]:
    left = (req.due_at - utcnow()).total_seconds() / 86400
    # Whole days, rounded up: a request due in 14.9 days has 15 days left; one 0.5 days late
    # is 1 day overdue (shown negative).
    days = math.ceil(left) if left >= 0 else -math.ceil(-left)
    if req.status not in rights.OPEN:
        return days, "done"
    if left < 0 or req.overdue_at is not None:
        return days, "overdue"
    return days, "soon" if left <= SOON_DAYS else "ok"


@bp.get("/compliance/dsr")
def dsr_queue() -> Any:
    access("dsr", "read")
    status = request.args.get("status") or None
    q = select(DsrRequest).order_by(DsrRequest.due_at).limit(500)
    if status:
        q = q.where(DsrRequest.status == status)
    reqs = list(db_session().scalars(q))
    rows = [{"req": r, "days": _days_left(r)} for r in reqs]
    return render_template("console/dsr_queue.html", rows=rows, status=status,
                           kinds=rights.KINDS, states=list(rights.TRANSITIONS))


def _who(ctx: Any) -> dict[str, Any]:
    return {"actor": ctx.principal.actor, "role": ctx.role, "request_id": request_id()}


@bp.post("/compliance/dsr")
def dsr_create() -> Any:
    ctx = access("dsr", "write")
    kind = request.form.get("kind", "")
    detail: dict[str, Any] = {}
    if kind == "consent_withdrawal":
        detail["purposes"] = [p for p in request.form.getlist("purposes") if p]
    req = rights.create_request(db_session(), current_platform(),
                                request.form.get("customer_id", "").strip(), kind,
                                channel="console", detail=detail, **_who(ctx))
    return redirect(url_for("console.dsr_detail", dsr_id=req.id))


def _timeline(req: DsrRequest) -> list[AuditEvent]:
    rows = db_session().scalars(
        select(AuditEvent).where(AuditEvent.customer_id == req.customer_id,
                                 AuditEvent.action.like("dsr.%"))
        .order_by(AuditEvent.id)
    )
    return [e for e in rows if (e.detail or {}).get("dsr_id") == req.id]


@bp.get("/compliance/dsr/<dsr_id>")
def dsr_detail(dsr_id: str) -> Any:
    access("dsr", "read")
    req = rights.get_request(db_session(), dsr_id)
    return render_template("console/dsr_detail.html", req=req, days=_days_left(req),
                           timeline=_timeline(req), error=None,
                           next_states=sorted(rights.TRANSITIONS[req.status]),
                           needs_approval=_needs_approval(req))


def _needs_approval(req: Any) -> bool:
    """Whether a second person must approve ``req`` before it is carried out (four eyes,
    ``policies/retention.toml [dsr] four_eyes``) and nobody has yet."""
    policy = load_retention(current_platform().policies)
    return req.kind in policy.four_eyes and not (req.detail or {}).get("approved_by")


@bp.post("/compliance/dsr/<dsr_id>/<step>")
def dsr_step(dsr_id: str, step: str) -> Any:
    ctx = access("dsr", "write")
    session = db_session()
    req = rights.get_request(session, dsr_id)
    reason = request.form.get("reason", "").strip()
    if step == "verify":
        rights.verify_request(session, req, method=request.form.get("method", "manual"), **_who(ctx))
    elif step == "approve":
        rights.approve_request(session, current_platform(), req, **_who(ctx))
    elif step == "refuse":
        if not reason:
            raise ValidationError("a refusal needs a written reason", code="reason_required")
        rights.refuse_request(session, req, reason=reason,
                              policies=current_platform().policies, **_who(ctx))
    elif step == "execute":
        if req.kind == "restriction" and not reason:
            raise ValidationError("a restriction needs a written reason", code="reason_required")
        if reason:
            from cdp.pii.redact import redact_text

            req.detail = {**req.detail, "note": redact_text(
                reason[:2000], "storage", policies=current_platform().policies).text}
        out = rights.execute_request(session, current_platform(), req, **_who(ctx))
        if req.kind == "access":
            # The package is sealed for the data subject: its one-time token is shown once,
            # on this response, to be handed over; the executor never sees the package.
            return render_template("console/dsr_detail.html", req=req, days=_days_left(req),
                                   timeline=_timeline(req), error=None,
                                   delivery=out.get("delivery"), needs_approval=False,
                                   next_states=sorted(rights.TRANSITIONS[req.status]))
    else:
        raise ValidationError("unknown step", code="unknown_step")
    return redirect(url_for("console.dsr_detail", dsr_id=req.id))


@bp.get("/compliance/retention")
def retention() -> Any:
    access("audit", "read")
    session = db_session()
    policy = load_retention(current_platform().policies)
    now = utcnow()
    kept = session.execute(
        select(RetainedRecord.category, func.count(), func.min(RetainedRecord.keep_until))
        .group_by(RetainedRecord.category)
    ).all()
    due = session.scalar(select(func.count()).select_from(RetainedRecord)
                         .where(RetainedRecord.keep_until <= now)) or 0
    open_dsr = session.scalar(select(func.count()).select_from(DsrRequest)
                              .where(DsrRequest.status.in_(rights.OPEN))) or 0
    return render_template("console/retention.html", policy=policy, kept=kept, due=due,
                           open_dsr=open_dsr)
