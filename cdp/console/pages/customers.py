"""Search, the customer 360 and break-glass: one access path with the /v1 API.

Every read goes through ``cdp.access.service`` (consent, restriction, break-glass, render,
audit) after the access guard's decision for the session's purpose of use.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from cdp.access import service
from cdp.access.breakglass import MAX_MINUTES, MIN_REASON
from cdp.access.models import BreakGlassGrant
from cdp.console import accounts, graph, sessions
from cdp.console.context import access, audit, bp, live
from cdp.console.search import detect
from cdp.crm.settings import load_settings
from cdp.db import utcnow
from cdp.errors import CdpError, ValidationError
from cdp.http import current_platform, db_session

MAX_RESULTS = 20
BREAK_GLASS_MINUTES = (15, 30, 60, 120)
REFILL_SOON_DAYS = 7


@bp.get("/")
def home() -> Any:
    """The landing page of each role: search for the roles that read customers."""
    role = live().user.role
    if role == "admin":
        return redirect(url_for("console.admin_users"))
    if role == "analyst":
        return redirect(url_for("console.analytics"))
    if role == "compliance_officer" and live().row.purpose == "data_subject_request":
        return redirect(url_for("console.dsr_queue"))
    return render_template("console/search.html", q="", kind=None, results=None)


@bp.route("/search", methods=["GET", "POST"])
def search() -> Any:
    """Search by POST: the typed value stays out of URLs, so out of access logs, browser
    history and Referer headers; it is not echoed back into the page either."""
    if request.method == "GET":
        return redirect(url_for("console.home"))
    q = request.form.get("q", "")
    kind = detect(q)
    results: list[dict[str, Any]] = []
    truncated = False
    error = None
    if q and kind is None:
        error = _("Enter a phone number, e-mail address, ID number or member id.")
    elif kind is not None:
        ctx = access("customers", "read")
        session, platform = db_session(), current_platform()
        if kind == "customer_id":
            ids = [q.strip()]
        else:
            try:
                ids = service.find_customer_ids(session, platform, kind, q, None)
            except ValidationError:
                ids = []
                error = _("That is not a searchable value (it may be masked or malformed).")
            service.audit_lookup(session, ctx, kind, len(ids))
        truncated = len(ids) > MAX_RESULTS
        for cid in ids[:MAX_RESULTS]:
            try:
                results.append(service.read_customer(session, platform, ctx, cid))
            except CdpError as exc:
                # As the API: restricted or erased matches are left out (the refusal is
                # audited); any other refusal (consent for marketing) is shown as such.
                if exc.code in ("customer_restricted", "customer_erased", "not_found"):
                    continue
                results.append({"customer_id": cid, "refused": exc.message})
    template = "console/_results.html" if request.headers.get("HX-Request") else "console/search.html"
    return render_template(template, q="", kind=kind, results=results if q else None,
                           truncated=truncated, error=error)


def live_grant(customer_id: str) -> BreakGlassGrant | None:
    """This person's unexpired break-glass grant for ``customer_id``, newest first."""
    return db_session().scalar(
        select(BreakGlassGrant)
        .where(
            BreakGlassGrant.console_user_id == live().user.id,
            BreakGlassGrant.customer_id == customer_id,
            BreakGlassGrant.expires_at > utcnow(),
        )
        .order_by(BreakGlassGrant.expires_at.desc())
        .limit(1)
    )


def refill_state(due: str, today: date) -> str:
    """The colour class of a refill due date: overdue, within a week, or later."""
    try:
        days = (date.fromisoformat(due) - today).days
    except ValueError:
        return ""
    return "days-overdue" if days < 0 else "days-soon" if days <= REFILL_SOON_DAYS else "days-ok"


def _dedupe_orders(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for o in orders:
        key = (o.get("order_id"), o.get("ordered_at"), o.get("total"))
        if key in seen and key[0] is not None:
            continue
        seen.add(key)
        out.append(o)
    return out


@bp.get("/customers/<customer_id>")
def customer(customer_id: str) -> Any:
    ctx = access("customers", "read")
    grant = live_grant(customer_id)
    view = service.read_customer(
        db_session(), current_platform(), ctx, customer_id,
        break_glass_id=grant.id if grant is not None else None,
    )
    if view.get("status") == "merged":
        return render_template("console/merged.html", view=view)
    crm_settings = load_settings(current_platform().policies)
    today = datetime.now(UTC).astimezone(crm_settings.tz).date()
    edges = graph.edges_of(view)
    name = (view.get("profile") or {}).get("name", {}).get("value") or _("Customer")
    may_break_glass = (
        grant is None
        and ctx.policy.allows(ctx.role, "customers", "break_glass", ctx.purpose)
    )
    return render_template(
        "console/customer.html",
        view=view,
        edges=edges,
        svg=graph.render_svg(str(name), edges),
        grant=grant,
        may_break_glass=may_break_glass,
        orders=_dedupe_orders(view.get("orders") or []),
        prescriptions=_dedupe_orders(view.get("prescriptions") or []),
        refill_class=lambda due: refill_state(str(due), today),
        adherence_threshold=crm_settings.adherence_threshold,
        complaints=[i for i in view.get("interactions") or [] if i.get("kind") == "complaint"],
        loyalty=[
            i for ident in view.get("identities") or [] for i in ident.get("identifiers") or []
            if i.get("type") == "member_id"
        ],
        may_steward=ctx.policy.allows(ctx.role, "customers", "split"),
    )


@bp.route("/customers/<customer_id>/break-glass", methods=["GET", "POST"])
def break_glass(customer_id: str) -> Any:
    ctx = access("customers", "break_glass")
    lv = live()
    errors: dict[str, str] = {}
    reason = request.form.get("reason", "")
    minutes_raw = request.form.get("minutes", "")
    if request.method == "POST":
        if len(reason.strip()) < MIN_REASON:
            errors["reason"] = _("Write the reason (at least %(n)d characters).", n=MIN_REASON)
        try:
            minutes = int(minutes_raw)
        except ValueError:
            minutes = 0
        if minutes not in BREAK_GLASS_MINUTES:
            errors["minutes"] = _("Choose a duration.")
        if not accounts.verify_password(lv.user, request.form.get("password", "")):
            errors["password"] = _("Re-enter your password.")
            audit("console.reauth", decision="deny", customer_id=customer_id[:32],
                  detail={"reason": "bad_password", "for": "break_glass"})
        if not errors:
            # Re-authenticated: the session moves to a new token.
            lv.row.reauth_at = utcnow()
            token, row = sessions.rotate(db_session(), lv.row)
            g.console = sessions.Live(row, lv.user)
            g.console_new_token = token
            service.open_break_glass(db_session(), ctx, customer_id, reason, minutes,
                                     platform=current_platform())
            return redirect(url_for("console.customer", customer_id=customer_id))
    status = 422 if errors else 200
    if errors.get("password") and len(errors) >= 1:
        status = 401 if list(errors) == ["password"] else 422
    return render_template("console/break_glass.html", customer_id=customer_id, errors=errors,
                           reason=reason, minutes=minutes_raw, choices=BREAK_GLASS_MINUTES,
                           max_minutes=MAX_MINUTES, min_reason=MIN_REASON), status


