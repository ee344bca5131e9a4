"""Marketing and analysts: aggregate charts (small counts suppressed) and the segment hook.

Segments, movement, churn and adherence distributions belong to the CRM capability
(``cdp.crm``), built separately; when it is installed, ``segment_provider()`` finds it and
the page lists its segments. Until then the page draws what the platform already holds, as
counts only: customers per channel, new customers per week, consents by purpose and data
subject requests by kind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import func, select

from cdp.console.charts import bar_chart, line_chart, suppress
from cdp.console.context import access, bp, cpolicy
from cdp.db import utcnow
from cdp.http import db_session
from cdp.identity.models import Consent, Customer, SourceRecord
from cdp.rights.models import DsrRequest

WEEKS = 12


def segment_provider() -> Callable[..., list[dict[str, Any]]] | None:
    """``cdp.crm.console.segments(session, role, purpose, min_count)`` when the CRM capability
    is installed: a list of {"name", "size", "history": [(label, size)], "members_url"?}."""
    try:
        module = importlib.import_module("cdp.crm.console")
    except ImportError:
        return None
    return getattr(module, "segments", None)


@bp.get("/analytics")
def analytics() -> Any:
    ctx = access("reports", "read")
    session = db_session()
    min_count = cpolicy().min_count
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
        charts.append({"id": cid, "title": title, "svg": draw(title, pts, chart_id=cid),
                       "points": pts})
    provider = segment_provider()
    segments = provider(session, ctx.role, ctx.purpose, min_count) if provider else None
    return render_template("console/analytics.html", charts=charts, segments=segments,
                           min_count=min_count)
