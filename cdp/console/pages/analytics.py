"""Marketing and analysts: aggregate charts (small counts suppressed) and segment members.

The page draws what the platform holds as counts only: customers per channel, new
customers per week, consents by purpose, data subject requests by kind; and from the CRM
capability (``cdp.crm``, through ``cdp.console.crm_reports``) segment sizes and their
movement per week, retention and churn by value score, the adherence distribution, and the
month's complaints with their SLA. Each part is decided by the access guard for its own
resource (``reports``, ``crm_segments``, ``crm_reports``) and audited as the API audits it.

Segment members are for marketing only (``crm_members`` in policy.csv): consent-filtered by
the CRM's gates (marketing consent; marketing_health too for a segment over health traits;
never a customer who objects to profiling), each member listed audited, as the API does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from cdp.audit.log import record
from cdp.console import crm_reports
from cdp.console.charts import Point, Series, bar_chart, grouped_bar_chart, line_chart, suppress
from cdp.console.context import access, bp, cpolicy
from cdp.crm import reads
from cdp.crm.models import CrmProfile
from cdp.crm.segments import Segment, load_segments
from cdp.crm.settings import CrmSettings, load_settings
from cdp.db import utcnow
from cdp.errors import NotFound, ValidationError
from cdp.http import current_platform, db_session
from cdp.identity.models import Consent, Customer, SourceRecord
from cdp.rights.models import DsrRequest

WEEKS = 12
MEMBERS_PAGE = 50


def _crm() -> tuple[CrmSettings, dict[str, Segment]]:
    policies = current_platform().policies
    return load_settings(policies), load_segments(policies)


def _pts(pairs: list[tuple[str, int | None]]) -> list[Point]:
    """Points from counts already suppressed by the CRM gate (None: suppressed)."""
    return [Point(label, 0, True) if n is None else Point(label, n) for label, n in pairs]


def _chart(cid: str, title: str, svg: Any, columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"id": cid, "title": title, "svg": svg, "columns": columns, "rows": rows}


def _platform_charts(min_count: int) -> list[dict[str, Any]]:
    session = db_session()
    per_channel = session.execute(
        select(SourceRecord.source, func.count(func.distinct(SourceRecord.customer_id)))
        .group_by(SourceRecord.source).order_by(SourceRecord.source)
    ).all()
    since = utcnow() - timedelta(weeks=WEEKS)
    created = session.scalars(select(Customer.created_at).where(Customer.created_at >= since))
    weekly: dict[str, int] = {}
    start = (utcnow() - timedelta(weeks=WEEKS - 1)).date()
    start -= timedelta(days=start.weekday())
    labels = [(start + timedelta(weeks=i)).isoformat() for i in range(WEEKS)]
    for at in created:
        monday = (at.date() - timedelta(days=at.weekday())).isoformat()
        weekly[monday] = weekly.get(monday, 0) + 1
    consents = session.execute(
        select(Consent.purpose, func.count(func.distinct(Consent.customer_id)))
        .where(Consent.granted.is_(True)).group_by(Consent.purpose).order_by(Consent.purpose)
    ).all()
    dsr = session.execute(
        select(DsrRequest.kind, func.count()).group_by(DsrRequest.kind).order_by(DsrRequest.kind)
    ).all()
    charts = []
    for cid, title, kind, points in [
        ("ch-channel", _("Customers per channel"), "bar", [(s, n) for s, n in per_channel]),
        ("ch-weekly", _("New customers per week"), "line", [(w, weekly.get(w, 0)) for w in labels]),
        ("ch-consent", _("Customers with consent, by purpose"), "bar", [(p, n) for p, n in consents]),
        ("ch-dsr", _("Data subject requests by kind"), "bar", [(k, n) for k, n in dsr]),
    ]:
        pts = suppress(points, min_count)
        draw = bar_chart if kind == "bar" else line_chart
        charts.append(_chart(cid, title, draw(title, pts, chart_id=cid), [_("Count")],
                             [[p.label, None if p.suppressed else p.value] for p in pts]))
    return charts


def _segment_charts(rows: list[crm_reports.SegmentRow], chosen: crm_reports.SegmentRow | None
                    ) -> list[dict[str, Any]]:
    charts = []
    title = _("Segment sizes")
    sizes = _pts([(r.name, r.size) for r in rows])
    charts.append(_chart("ch-seg-size", title, bar_chart(title, sizes, chart_id="ch-seg-size"),
                         [_("Customers")], [[r.name, r.size] for r in rows]))
    if chosen is not None:
        title = _("Segment movement per week: %(name)s", name=chosen.name)
        entered = _pts([(w, e) for w, e, _l in chosen.weekly])
        left = _pts([(w, lf) for w, _e, lf in chosen.weekly])
        svg = grouped_bar_chart(title, [Series(_("Entered"), entered), Series(_("Left"), left)],
                                chart_id="ch-seg-move")
        charts.append(_chart("ch-seg-move", title, svg, [_("Entered"), _("Left")],
                             [[w, e, lf] for w, e, lf in chosen.weekly]))
    return charts


def _report_charts(settings: CrmSettings, floor: int, month: str) -> list[dict[str, Any]]:
    session, charts = db_session(), []
    ret = crm_reports.retention(session, settings, floor)
    title = _("Retention and churn by value score")
    svg = grouped_bar_chart(title, [
        Series(_("Customers"), _pts([(v, n) for v, n, _l in ret])),
        Series(_("Lapsing (probability alive below %(p).2f)", p=settings.alive_threshold),
               _pts([(v, lp) for v, _n, lp in ret])),
    ], chart_id="ch-retention")
    charts.append(_chart("ch-retention", title, svg, [_("Customers"), _("Lapsing")],
                         [[_("value score %(v)s", v=v), n, lp] for v, n, lp in ret]))

    adh = crm_reports.adherence(session, current_platform(), settings, floor)
    year = adh.year if adh.year is not None else "—"
    title = _("Adherence by drug class, %(year)s (PDC ≥ %(t).2f)", year=year,
              t=settings.adherence_threshold)
    svg = grouped_bar_chart(title, [
        Series(_("Adherent"), _pts([(c, a) for c, a, _b in adh.by_class])),
        Series(_("Below the threshold"), _pts([(c, b) for c, _a, b in adh.by_class])),
    ], chart_id="ch-adherence")
    charts.append(_chart("ch-adherence", title, svg, [_("Adherent"), _("Below the threshold")],
                         [[c, a, b] for c, a, b in adh.by_class]))
    title = _("Proportion of days covered, %(year)s: patients per band and drug class", year=year)
    charts.append(_chart("ch-pdc", title, bar_chart(title, _pts(adh.bands), chart_id="ch-pdc"),
                         [_("Patient-classes")], [[b, n] for b, n in adh.bands]))

    cells = crm_reports.complaints(session, settings, month, floor)
    title = _("Complaints and SLA, %(month)s", month=month)
    labels = [f"{c['category']} · {c['channel']}" for c in cells]

    def col(key: str) -> list[tuple[str, int | None]]:
        return [(lab, None if c["suppressed"] else c[key]) for lab, c in zip(labels, cells, strict=True)]

    svg = grouped_bar_chart(title, [
        Series(_("Complaints"), _pts(col("volume"))),
        Series(_("First response in time"), _pts(col("first_response_sla_met"))),
        Series(_("Resolved in time"), _pts(col("resolution_sla_met"))),
    ], chart_id="ch-complaints")
    charts.append(_chart("ch-complaints", title, svg,
                         [_("Complaints"), _("First response in time"), _("Resolved in time"),
                          _("Mean satisfaction")],
                         [[lab, *(None if c["suppressed"] else c.get(k) for k in (
                             "volume", "first_response_sla_met", "resolution_sla_met",
                             "satisfaction_mean"))] for lab, c in zip(labels, cells, strict=True)]))
    return charts


@bp.get("/analytics")
def analytics() -> Any:
    ctx = access("reports", "read")
    seg_ctx = access("crm_segments", "read")
    rep_ctx = access("crm_reports", "read")
    session = db_session()
    settings, defs = _crm()
    floor = max(cpolicy().min_count, settings.min_count)
    rows = crm_reports.segments(session, settings, defs, floor)
    wanted = request.args.get("segment", "")
    chosen = next((r for r in rows if r.name == wanted), None) or (
        max(rows, key=lambda r: (r.size or 0, r.name)) if rows else None)
    months = crm_reports.months(settings)
    month = request.args.get("month") or months[0]
    if month not in months:
        raise ValidationError("month must be one of the last six months (YYYY-MM)",
                              code="invalid_month")
    charts = _platform_charts(floor)
    charts += _segment_charts(rows, chosen)
    charts += _report_charts(settings, floor, month)
    may_list = ctx.policy.allows(ctx.role, "crm_members", "read", ctx.purpose)
    record(session,
           seg_ctx.audit(action="crm.segments.list", detail={"segments": len(rows), "face": "console"}),
           rep_ctx.audit(action="crm.reports.console",
                         detail={"month": month, "segment": chosen.name if chosen else None}))
    return render_template(
        "console/analytics.html", charts=charts, segments=rows, chosen=chosen, months=months,
        month=month, min_count=floor, may_list=may_list, scored=bool(session.scalar(
            select(func.count()).select_from(CrmProfile))),
    )


@bp.get("/analytics/segments/<name>")
def segment_members(name: str) -> Any:
    """Members marketing may receive, a page at a time; each member listed is audited."""
    ctx = access("crm_members", "read")
    settings, defs = _crm()
    seg = defs.get(name)
    if seg is None:
        raise NotFound("no such segment")
    after = request.args.get("after") or None
    if after is not None and not (after.isalnum() and len(after) <= 32):
        raise ValidationError("after must be a customer id", code="invalid_after")
    session = db_session()
    ids, held = reads.marketable_members(session, seg, limit=MEMBERS_PAGE, after=after)
    scores = {r.customer_id: r for r in session.execute(
        select(CrmProfile.customer_id, CrmProfile.r_score, CrmProfile.f_score, CrmProfile.m_score,
               CrmProfile.p_alive, CrmProfile.clv_12m, CrmProfile.value_score)
        .where(CrmProfile.customer_id.in_(ids)))} if ids else {}
    categories = ("crm_scores", "health") if seg.health else ("crm_scores",)
    detail = {"segment": name, "held_back": held, "face": "console"}
    view = {c: "plain" for c in categories}
    record(session, *[
        ctx.audit(action="crm.segments.members", customer_id=cid, categories=categories,
                  view=view, detail=detail) for cid in ids
    ], ctx.audit(action="crm.segments.members", detail={**detail, "listed": len(ids)}))
    size = reads.segment_sizes(session).get(name, 0)
    floor = max(cpolicy().min_count, settings.min_count)
    next_url = (url_for("console.segment_members", name=name, after=ids[-1])
                if len(ids) == MEMBERS_PAGE else None)
    return render_template("console/segment_members.html", seg=seg, members=[
        {"customer_id": cid, "scores": scores.get(cid)} for cid in ids], held=held,
        size=size if size >= floor else None, min_count=floor, next_url=next_url, after=after)
