"""Data steward: merge and split with a preview, pairs to review, lineage."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from cdp.access import service
from cdp.access.guard import AccessContext
from cdp.console.context import access, bp
from cdp.errors import CdpError, ValidationError
from cdp.http import current_platform, db_session
from cdp.identity.models import Customer, Identifier, LineageEvent, SourceRecord
from cdp.identity.stewardship import merge_customers, split_records

REVIEW_TYPES = ("phone", "email")
MAX_PAIRS = 50


def pairs_to_review(limit: int = MAX_PAIRS) -> list[dict[str, Any]]:
    """Active customers that share a phone or e-mail yet were kept apart by resolution
    (a conflicting name or birth date, or a shared family value): the cases a person
    should look at. Ids and the identifier type only, never the value."""
    session = db_session()
    shared = (
        select(Identifier.type, Identifier.bidx)
        .join(Customer, Customer.id == Identifier.customer_id)
        .where(Identifier.type.in_(REVIEW_TYPES), Identifier.status == "valid",
               Identifier.bidx.is_not(None), Customer.status == "active")
        .group_by(Identifier.type, Identifier.bidx)
        .having(func.count(func.distinct(Identifier.customer_id)) > 1)
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(shared.c.type, shared.c.bidx, Identifier.customer_id)
        .join(Identifier, (Identifier.type == shared.c.type) & (Identifier.bidx == shared.c.bidx))
        .distinct()
        .order_by(shared.c.type, shared.c.bidx, Identifier.customer_id)
    )
    groups: dict[tuple[str, str], list[str]] = {}
    for id_type, bidx, cid in rows:
        groups.setdefault((id_type, bidx), []).append(cid)
    out = []
    for (id_type, _), ids in groups.items():
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                out.append({"type": id_type, "a": a, "b": b})
    return out[:limit]


def lineage(customer_id: str) -> list[LineageEvent]:
    return list(db_session().scalars(
        select(LineageEvent)
        .where(or_(LineageEvent.customer_id == customer_id,
                   LineageEvent.other_customer_id == customer_id))
        .order_by(LineageEvent.created_at.desc(), LineageEvent.id.desc())
        .limit(100)
    ))


def _records(customer_id: str) -> list[SourceRecord]:
    return list(db_session().scalars(
        select(SourceRecord).where(SourceRecord.customer_id == customer_id)
        .order_by(SourceRecord.source, SourceRecord.source_record_id)
    ))


def _read(ctx: AccessContext, customer_id: str) -> dict[str, Any] | None:
    try:
        return service.read_customer(db_session(), current_platform(), ctx, customer_id)
    except CdpError:
        return None


@bp.get("/steward")
def steward() -> Any:
    access("customers", "merge", purpose="optional")
    cid = request.args.get("customer", "").strip()[:32]
    view = records = events = None
    if cid:
        ctx = access("customers", "read")
        view = _read(ctx, cid)
        records = _records(cid)
        events = lineage(cid)
    return render_template("console/steward.html", cid=cid, view=view, records=records,
                           events=events, pairs=pairs_to_review())


@bp.post("/steward/merge/preview")
def merge_preview() -> Any:
    access("customers", "merge", purpose="optional")
    ctx = access("customers", "read")
    a = request.form.get("survivor", "").strip()[:32]
    b = request.form.get("other", "").strip()[:32]
    va, vb = _read(ctx, a), _read(ctx, b)
    if va is None or vb is None or a == b:
        raise ValidationError("name two different, existing customers", code="bad_pair")
    ids_a = {(i["type"], i["value"]) for r in va["identities"] for i in r["identifiers"]}
    ids_b = {(i["type"], i["value"]) for r in vb["identities"] for i in r["identifiers"]}
    national = {v for t, v in ids_a if t == "national_id"}, {v for t, v in ids_b if t == "national_id"}
    return render_template(
        "console/_merge_preview.html", a=va, b=vb,
        records=len(va["identities"]) + len(vb["identities"]),
        identifiers=len(ids_a | ids_b), shared=len(ids_a & ids_b),
        conflict=bool(national[0] and national[1] and national[0] != national[1]),
        reason=request.form.get("reason", ""),
    )


@bp.post("/steward/merge")
def merge() -> Any:
    ctx = access("customers", "merge", purpose="optional")
    a = request.form.get("survivor", "").strip()[:32]
    b = request.form.get("other", "").strip()[:32]
    survivor = merge_customers(db_session(), current_platform(), a, b, ctx.principal.actor,
                               request.form.get("reason", ""), audit_context=ctx.audit_context())
    return redirect(url_for("console.steward", customer=survivor, done="merge"))


@bp.post("/steward/split/preview")
def split_preview() -> Any:
    access("customers", "split", purpose="optional")
    cid = request.form.get("customer", "").strip()[:32]
    chosen = set(request.form.getlist("record"))
    recs = _records(cid)
    moving = [r for r in recs if r.id in chosen]
    if not moving:
        raise ValidationError("choose at least one record to split off", code="no_records")
    if len(moving) == len(recs):
        raise ValidationError("splitting every record off would leave the customer empty",
                              code="split_all")
    staying = [r for r in recs if r.id not in chosen]
    return render_template("console/_split_preview.html", cid=cid, moving=moving,
                           staying=staying, reason=request.form.get("reason", ""))


@bp.post("/steward/split")
def split() -> Any:
    ctx = access("customers", "split", purpose="optional")
    cid = request.form.get("customer", "").strip()[:32]
    new = split_records(db_session(), current_platform(), cid, request.form.getlist("record"),
                        ctx.principal.actor, request.form.get("reason", ""),
                        audit_context=ctx.audit_context())
    return redirect(url_for("console.steward", customer=cid, done="split", new=new))
