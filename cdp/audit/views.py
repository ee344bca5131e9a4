"""Compliance endpoints: audit events, verification, checkpoints, reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from cdp.access import breakglass
from cdp.access.guard import current_access, protected
from cdp.audit import queries
from cdp.audit.checkpoints import SignedCheckpoint, create_checkpoint
from cdp.audit.log import record
from cdp.audit.verify import verify_log
from cdp.db import utcnow
from cdp.http import current_platform, db_session
from cdp.http.openapi import api_doc
from cdp.http.parsing import parse

bp = Blueprint("audit", __name__)


class EventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str | None = Field(None, max_length=32)
    actor: str | None = Field(None, max_length=128)
    action: str | None = Field(None, max_length=64)
    since: datetime | None = None
    until: datetime | None = None
    after_id: int | None = Field(None, ge=0)
    limit: int = Field(100, ge=1, le=1000)


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: datetime | None = None
    until: datetime | None = None
    window_minutes: int = Field(10, ge=1, le=24 * 60)
    threshold: int = Field(50, ge=1)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@bp.get("/audit/events")
@api_doc(query=EventsQuery, purpose=True, tags=["audit"])
@protected("audit", "read", purpose="required")
def events() -> Any:
    """Audit entries filtered by customer_id, actor, action, since, until (compliance roles)."""
    q = parse(EventsQuery, request.args.to_dict())
    session, ctx = db_session(), current_access()
    rows = queries.find_events(
        session,
        customer_id=q.customer_id,
        actor=q.actor,
        action=q.action,
        since=_utc(q.since),
        until=_utc(q.until),
        after_id=q.after_id,
        limit=q.limit,
    )
    out = [queries.event_dict(r) for r in rows]
    record(
        session,
        ctx.audit(
            action="audit.read",
            customer_id=q.customer_id,
            detail={
                "filters": {
                    k: v
                    for k, v in request.args.to_dict().items()
                    if k in ("actor", "action", "since", "until")
                },
                "returned": len(out),
            },
        ),
    )
    return jsonify({"events": out, "next_after_id": out[-1]["id"] if len(out) == q.limit else None})


@bp.get("/audit/verify")
@api_doc(tags=["audit"])
@protected("audit", "verify")
def verify() -> Any:
    """The same check as `cdp audit verify`: chains, hashes and signed checkpoints."""
    session, platform, ctx = db_session(), current_platform(), current_access()
    result = verify_log(session, platform.keyring.verify_key, workers=1)
    record(
        session,
        ctx.audit(action="audit.verify", detail={"ok": result.ok, "entries": result.entries}),
    )
    return jsonify(result.as_dict())


@bp.post("/audit/checkpoints")
@api_doc(tags=["audit"], status=201)
@protected("audit", "checkpoint")
def checkpoint() -> Any:
    """Sign the current chain heads; returns the checkpoint to keep outside the database."""
    session, platform, ctx = db_session(), current_platform(), current_access()
    row = create_checkpoint(session, platform.keyring.signing_key)
    record(session, ctx.audit(action="audit.checkpoint", detail={"checkpoint": row.id}))
    return jsonify(
        {
            "id": row.id,
            "entry_count": row.entry_count,
            **SignedCheckpoint(row.statement, row.signature).to_json(),
        }
    ), 201


@bp.get("/audit/reports/break-glass")
@api_doc(query=ReportQuery, purpose=True, tags=["audit"])
@protected("audit", "read", purpose="required")
def break_glass_report() -> Any:
    """Every break-glass grant in the period with its written reason and reads under it."""
    q = parse(ReportQuery, request.args.to_dict())
    session, ctx = db_session(), current_access()
    out = breakglass.break_glass_report(session, since=_utc(q.since), until=_utc(q.until))
    record(
        session,
        ctx.audit(action="audit.report", detail={"report": "break_glass", "rows": len(out)}),
    )
    return jsonify({"grants": out})


@bp.get("/audit/reports/heavy-readers")
@api_doc(query=ReportQuery, purpose=True, tags=["audit"])
@protected("audit", "read", purpose="required")
def heavy_readers() -> Any:
    """Actors who read at least `threshold` distinct customers within `window_minutes`."""
    q = parse(ReportQuery, request.args.to_dict())
    session, ctx = db_session(), current_access()
    since = _utc(q.since) or utcnow() - timedelta(days=1)
    out = queries.heavy_readers(
        session,
        window=timedelta(minutes=q.window_minutes),
        threshold=q.threshold,
        since=since,
        until=_utc(q.until),
    )
    record(
        session,
        ctx.audit(action="audit.report", detail={"report": "heavy_readers", "rows": len(out)}),
    )
    return jsonify({"actors": out})
