"""Complaint tickets: states, SLA per priority, the adverse-drug-reaction regulatory clock,
follow-up and satisfaction, the monthly report. Every state change is audited.

States: open -> acknowledged -> investigating -> resolved -> closed; a resolved or closed
ticket may be reopened (back to open). The first move out of ``open`` is the first response.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.audit.log import AuditEntry, record
from cdp.crm.models import CareTask, Complaint, ComplaintEvent, table
from cdp.crm.settings import CATEGORIES, PRIORITIES, CrmSettings
from cdp.crypto import fields
from cdp.db import new_id
from cdp.db.bulk import insert_rows
from cdp.errors import Conflict, NotFound, ValidationError
from cdp.identity.models import Interaction, SourceRecord

STATES = ("open", "acknowledged", "investigating", "resolved", "closed")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("acknowledged", "investigating", "resolved"),
    "acknowledged": ("investigating", "resolved"),
    "investigating": ("resolved",),
    "resolved": ("closed", "open"),
    "closed": ("open",),
}
ADR = "adverse_drug_reaction"
DEATH_WORDS = ("死亡", "去世", "died", "death")
SERIOUS_WORDS = ("住院", "急诊", "严重", "抢救", "hospital", "serious", "life-threatening")


def classify(text: str, settings: CrmSettings) -> str:
    """The category whose keywords the text holds first (policy order); ``service`` else."""
    low = text.lower()
    for cat, words in settings.keywords:
        if any(w in low for w in words):
            return cat
    return "service"


def default_priority(category: str) -> str:
    return {"adverse_drug_reaction": "urgent", "privacy": "high"}.get(category, "normal")


def adr_due(learned_on: date, *, serious: bool, new: bool, death: bool, settings: CrmSettings) -> date:
    """The reporting deadline of an adverse drug reaction: the day learned for a death,
    else 15 days (serious or new) or 30 days after the day the pharmacy learned of it."""
    if death:
        return learned_on
    days = settings.adr_serious_days if (serious or new) else settings.adr_other_days
    return learned_on + timedelta(days=days)


def sla(c: Complaint, settings: CrmSettings, now: datetime) -> dict[str, Any]:
    """Due times of the first response and the resolution, and whether each was missed
    (by the time it happened, or by ``now`` while it has not)."""
    s = settings.sla[c.priority]
    first_due = c.opened_at + timedelta(hours=s.first_response_hours)
    res_due = c.opened_at + timedelta(hours=s.resolution_hours)
    first_at = c.first_response_at or now
    res_at = c.resolved_at or now
    return {
        "first_response_due": first_due.isoformat(),
        "resolution_due": res_due.isoformat(),
        "first_response_breached": first_at > first_due,
        "resolution_breached": res_at > res_due,
    }


def as_json(c: Complaint, settings: CrmSettings, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "customer_id": c.customer_id,
        "origin": c.origin,
        "channel": c.channel,
        "category": c.category,
        "priority": c.priority,
        "state": c.state,
        "opened_at": c.opened_at.isoformat(),
        "first_response_at": c.first_response_at.isoformat() if c.first_response_at else None,
        "resolved_at": c.resolved_at.isoformat() if c.resolved_at else None,
        "closed_at": c.closed_at.isoformat() if c.closed_at else None,
        "satisfaction": c.satisfaction,
        "dsr_id": c.dsr_id,
        "sla": sla(c, settings, now),
    }
    if c.category == ADR:
        out["adr"] = {
            "learned_on": c.adr_learned_on.isoformat() if c.adr_learned_on else None,
            "serious": c.adr_serious,
            "new": c.adr_new,
            "death": c.adr_death,
            "report_due_on": c.regulatory_due_on.isoformat() if c.regulatory_due_on else None,
            "report_overdue": bool(
                c.regulatory_due_on
                and c.state != "closed"
                and now.astimezone(settings.tz).date() > c.regulatory_due_on
            ),
        }
    return out


def _audit(
    session: Session,
    c: Complaint,
    action: str,
    actor: str,
    ctx: dict[str, Any] | None,
    detail: dict[str, Any],
) -> None:
    ctx = ctx or {}
    record(
        session,
        AuditEntry(
            actor=actor,
            role=ctx.get("role"),
            purpose=ctx.get("purpose"),
            request_id=ctx.get("request_id"),
            action=action,
            customer_id=c.customer_id,
            categories=("complaints",),
            detail={"complaint": c.id, **detail},
        ),
    )


def open_complaint(
    session: Session,
    settings: CrmSettings,
    *,
    customer_id: str,
    category: str,
    channel: str,
    opened_at: datetime,
    actor: str,
    priority: str | None = None,
    origin: str = "api",
    interaction_id: str | None = None,
    adr: dict[str, Any] | None = None,
    description: str | None = None,
    data_key: tuple[str, bytes] | None = None,
    audit_context: dict[str, Any] | None = None,
) -> Complaint:
    """A new ticket in state ``open`` (audited); an ADR gets its regulatory deadline."""
    if category not in CATEGORIES:
        raise ValidationError(f"category must be one of {', '.join(CATEGORIES)}", code="invalid_category")
    priority = priority or default_priority(category)
    if priority not in PRIORITIES:
        raise ValidationError(f"priority must be one of {', '.join(PRIORITIES)}", code="invalid_priority")
    c = Complaint(
        customer_id=customer_id,
        interaction_id=interaction_id,
        origin=origin,
        channel=channel,
        category=category,
        priority=priority,
        state="open",
        opened_at=opened_at,
    )
    if category == ADR:
        adr = adr or {}
        learned = adr.get("learned_on") or opened_at.astimezone(settings.tz).date()
        c.adr_learned_on = learned
        c.adr_serious, c.adr_new, c.adr_death = (
            bool(adr.get("serious")),
            bool(adr.get("new")),
            bool(adr.get("death")),
        )
        c.regulatory_due_on = adr_due(
            learned, serious=c.adr_serious, new=c.adr_new, death=c.adr_death, settings=settings
        )
    session.add(c)
    session.flush()
    if description and data_key is not None:
        c.data_key_id = data_key[0]
        c.description_ct = fields.encrypt(
            data_key[1], description.encode(), fields.field_aad("crm_complaints", "description_ct", c.id)
        )
    session.add(
        ComplaintEvent(complaint_id=c.id, from_state=None, to_state="open", at=opened_at, actor=actor)
    )
    _audit(
        session,
        c,
        "crm.complaint.open",
        actor,
        audit_context,
        {"category": category, "priority": priority, "origin": origin},
    )
    return c


def get(session: Session, complaint_id: str) -> Complaint:
    c = (
        session.get(Complaint, complaint_id)
        if isinstance(complaint_id, str) and len(complaint_id) <= 32
        else None
    )
    if c is None:
        raise NotFound("no such complaint")
    return c


def transition(
    session: Session,
    settings: CrmSettings,
    c: Complaint,
    to: str,
    *,
    actor: str,
    now: datetime,
    satisfaction: int | None = None,
    audit_context: dict[str, Any] | None = None,
) -> Complaint:
    """Move ``c`` to state ``to`` (Conflict when the move is not allowed); audited. Resolving
    opens a follow-up task; a satisfaction score (1-5) may be given once resolved."""
    if to not in STATES:
        raise ValidationError(f"state must be one of {', '.join(STATES)}", code="invalid_state")
    if to not in TRANSITIONS[c.state]:
        raise Conflict(f"a {c.state} complaint cannot become {to}", code="invalid_transition")
    if satisfaction is not None:
        if not isinstance(satisfaction, int) or not 1 <= satisfaction <= 5:
            raise ValidationError("satisfaction must be 1 to 5", code="invalid_satisfaction")
        if to not in ("resolved", "closed"):
            raise Conflict("satisfaction is recorded once the complaint is resolved", code="not_resolved")
    prev = c.state
    c.state = to
    if prev == "open" and c.first_response_at is None:
        c.first_response_at = now
    if to == "resolved":
        c.resolved_at = now
        last_event = session.scalar(
            select(ComplaintEvent.id)
            .where(ComplaintEvent.complaint_id == c.id)
            .order_by(ComplaintEvent.id.desc())
            .limit(1)
        )
        ref = f"complaint:{c.id}:{last_event}"
        session.add(
            CareTask(
                customer_id=c.customer_id,
                kind="complaint_followup",
                ref=ref[:64],
                due_on=now.astimezone(settings.tz).date() + timedelta(days=settings.followup_complaint_days),
            )
        )
    if to == "closed":
        c.closed_at = now
    if to == "open":
        c.resolved_at = None
        c.closed_at = None
    if satisfaction is not None:
        c.satisfaction = satisfaction
    session.add(ComplaintEvent(complaint_id=c.id, from_state=prev, to_state=to, at=now, actor=actor))
    session.flush()
    _audit(
        session,
        c,
        "crm.complaint.transition",
        actor,
        audit_context,
        {"from": prev, "to": to, **({"satisfaction": satisfaction} if satisfaction else {})},
    )
    return c


def from_interactions(session: Session, platform: Any, settings: CrmSettings, now: datetime) -> int:
    """A ticket for every `complaint` interaction without one (category by the policy's
    keywords in its text; the text itself goes nowhere). Returns the number opened.

    Written in bulk (tickets, their first state, one audit entry each), 2,000 interactions
    at a time: a first refresh over a large history opens tens of thousands."""
    opened = 0
    while True:
        n = _open_batch(session, platform, settings, now, OPEN_BATCH)
        opened += n
        if n < OPEN_BATCH:
            return opened


OPEN_BATCH = 2000


def _open_batch(session: Session, platform: Any, settings: CrmSettings, now: datetime,
                limit: int) -> int:
    """Tickets for the oldest ``limit`` complaint interactions without one."""
    have = select(Complaint.interaction_id).where(Complaint.interaction_id.is_not(None))
    rows = session.execute(
        select(
            Interaction.id,
            Interaction.customer_id,
            Interaction.at,
            Interaction.data_key_id,
            Interaction.text_ct,
            SourceRecord.source,
        )
        .join(SourceRecord, SourceRecord.id == Interaction.record_id)
        .where(Interaction.kind == "complaint", Interaction.id.not_in(have))
        .order_by(Interaction.at, Interaction.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    keys = platform.keys.load(session, {r.data_key_id for r in rows})
    tickets: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    audits: list[AuditEntry] = []
    for r in rows:
        text = ""
        # the original text, in memory only: the stored redaction replaces health terms
        # (皮疹 -> <HEALTH_TERM>), which are what tells an adverse reaction apart
        if r.data_key_id in keys and r.text_ct is not None:
            try:
                text = fields.decrypt(
                    keys[r.data_key_id], r.text_ct, fields.field_aad("interactions", "text_ct", r.id)
                ).decode()
            except Exception:  # noqa: BLE001 - an unreadable text still becomes a ticket
                text = ""
        category = classify(text, settings)
        low = text.lower()
        opened = r.at or now
        row: dict[str, Any] = {
            "id": new_id(),
            "customer_id": r.customer_id,
            "interaction_id": r.id,
            "origin": "interaction",
            "channel": r.source,
            "category": category,
            "priority": default_priority(category),
            "state": "open",
            "opened_at": opened,
            "first_response_at": None,
            "resolved_at": None,
            "closed_at": None,
            "adr_learned_on": None,
            "adr_serious": False,
            "adr_new": False,
            "adr_death": False,
            "regulatory_due_on": None,
            "satisfaction": None,
            "dsr_id": None,
            "data_key_id": None,
            "description_ct": None,
            "created_at": now,
            "updated_at": now,
        }
        if category == ADR:
            learned = opened.astimezone(settings.tz).date()
            death = any(w in low for w in DEATH_WORDS)
            serious = any(w in low for w in SERIOUS_WORDS)
            row.update(
                adr_learned_on=learned,
                adr_serious=serious,
                adr_death=death,
                regulatory_due_on=adr_due(
                    learned, serious=serious, new=False, death=death, settings=settings
                ),
            )
        tickets.append(row)
        events.append(
            {
                "complaint_id": row["id"],
                "from_state": None,
                "to_state": "open",
                "at": opened,
                "actor": "system",
            }
        )
        audits.append(
            AuditEntry(
                actor="system",
                action="crm.complaint.open",
                customer_id=r.customer_id,
                categories=("complaints",),
                detail={
                    "complaint": row["id"],
                    "category": category,
                    "priority": row["priority"],
                    "origin": "interaction",
                },
            )
        )
    for start in range(0, len(tickets), 5000):
        insert_rows(session, table(Complaint), tickets[start : start + 5000])
        insert_rows(session, table(ComplaintEvent), events[start : start + 5000])
    record(session, *audits)
    return len(tickets)


def monthly_report(
    session: Session, settings: CrmSettings, month: str, now: datetime, min_count: int | None
) -> dict[str, Any]:
    """Per category and channel for the month (YYYY-MM, opened in the CRM time zone):
    volume, SLA met (first response and resolution), mean satisfaction. Cells with fewer
    than ``min_count`` complaints are suppressed (None: no suppression)."""
    try:
        y, m = (int(p) for p in month.split("-"))
        start_local = datetime(y, m, 1, tzinfo=settings.tz)
    except (ValueError, TypeError):
        raise ValidationError("month must be YYYY-MM", code="invalid_month") from None
    end_local = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=settings.tz)
    rows = session.scalars(
        select(Complaint).where(
            Complaint.opened_at >= start_local.astimezone(UTC),
            Complaint.opened_at < end_local.astimezone(UTC),
        )
    )
    cells: dict[tuple[str, str], list[Complaint]] = defaultdict(list)
    for c in rows:
        cells[(c.category, c.channel)].append(c)
    out: list[dict[str, Any]] = []
    for (cat, channel), cs in sorted(cells.items()):
        n = len(cs)
        if min_count is not None and n < min_count:
            out.append({"category": cat, "channel": channel, "volume": None, "suppressed": True})
            continue
        flags = [sla(c, settings, now) for c in cs]
        sats = [c.satisfaction for c in cs if c.satisfaction is not None]
        out.append(
            {
                "category": cat,
                "channel": channel,
                "volume": n,
                "suppressed": False,
                "first_response_sla_met": sum(not f["first_response_breached"] for f in flags),
                "resolution_sla_met": sum(not f["resolution_breached"] for f in flags),
                "satisfaction_mean": round(sum(sats) / len(sats), 2) if sats else None,
                "satisfaction_count": len(sats),
            }
        )
    return {"month": month, "rows": out}
