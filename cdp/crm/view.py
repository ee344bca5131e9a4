"""The `crm` section of the unified customer view, shaped by the same category views.

Each part carries its data category (views.toml): ``crm_scores`` (RFM, churn and value
scores, non-health segments), ``health`` (drug and chronic classes, adherence, refills,
health-derived segments), ``loyalty`` (points, tier), ``complaints`` (open tickets). A part
whose category the role does not see is left out; ``plain`` gives the values; any other view
gives the part's existence, and for ``health`` the class names only (redacted to a class).
The section is absent when there is nothing (no refresh yet, no points, no complaints), so a
customer read before any CRM run looks exactly as it did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.access.policy import CategoryView, PolicySet
from cdp.access.render import RenderSummary
from cdp.crm import complaints as complaints_svc
from cdp.crm import gates, loyalty
from cdp.crm.models import Complaint, LoyaltyAccount, LoyaltyEntry
from cdp.crm.reads import load_traits
from cdp.crm.segments import load_segments
from cdp.crm.settings import load_settings

SCORE_KEYS = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
              "first_order", "last_order", "channels", "p_alive", "churn_score", "expected_90d",
              "clv_12m", "value_score")


def _viewer(policy: PolicySet, role: str, purpose: str | None, consents: Mapping[str, bool],
            plain: Iterable[str], summary: RenderSummary) -> Any:
    plain_set = frozenset(plain)

    def view(category: str) -> str:
        # the renderer's rule (cdp/access/render.py _Renderer.view)
        cv: CategoryView = policy.view_for(role, purpose, category)
        if cv.view != "absent" and cv.consent and not consents.get(cv.consent, False):
            cv = CategoryView("absent")
        if category in plain_set and category in policy.categories:
            cv = CategoryView("plain")
        summary.note(category, cv.view)
        return cv.view

    return view


def crm_section(
    session: Session, platform: Any, customer_id: str, *, policy: PolicySet, role: str,
    purpose: str | None, consents: Mapping[str, bool], summary: RenderSummary,
    plain: Iterable[str] = (),
) -> dict[str, Any] | None:
    """The customer's CRM data as ``role`` may see it for ``purpose`` (None when there is
    none); the categories given are noted in ``summary`` for the read's audit entry."""
    traits = load_traits(session, platform, [customer_id]).get(customer_id)
    has_points = session.scalar(select(LoyaltyEntry.id).where(
        LoyaltyEntry.customer_id == customer_id).limit(1)) is not None or session.get(
        LoyaltyAccount, customer_id) is not None
    open_complaints = list(session.scalars(select(Complaint).where(
        Complaint.customer_id == customer_id, Complaint.state != "closed")
        .order_by(Complaint.opened_at)))
    if traits is None and not has_points and not open_complaints:
        return None
    view = _viewer(policy, role, purpose, consents, plain, summary)
    out: dict[str, Any] = {}
    # An objection to profiling (PIPL art. 24) leaves the customer without scores for anyone
    # and without any profile for a marketing purpose; care data stays for care.
    objects = gates.objects_to_profiling(consents)
    marketing = policy.required_consent(purpose) == gates.MARKETING
    if traits is not None and not (objects and marketing):
        segments = load_segments(platform.policies)
        health_segs = [s for s in traits.get("segments", []) if s in segments and segments[s].health]
        other_segs = [s for s in traits.get("segments", []) if s not in health_segs]
        out["as_of"] = traits.get("as_of")
        v = view("crm_scores") if not objects else "absent"
        if v != "absent":
            part: dict[str, Any] = {"category": "crm_scores", "view": v}
            if v == "plain":
                part.update({k: traits.get(k) for k in SCORE_KEYS})
                part["segments"] = other_segs
            out["scores"] = part
        v = view("health")
        if v != "absent":
            part = {"category": "health", "view": v,
                    "drug_classes": traits.get("drug_classes", []),
                    "chronic_classes": traits.get("chronic_classes", [])}
            if v == "plain":
                part.update(adherence=traits.get("adherence", []), refills=traits.get("refills", []),
                            atc_codes=traits.get("atc_codes", []), segments=health_segs)
            out["care"] = part
    if has_points or traits is not None:
        v = view("loyalty")
        if v != "absent":
            part = {"category": "loyalty", "view": v}
            if v == "plain":
                part.update(loyalty.summary(session, customer_id))
            out["loyalty"] = part
    if open_complaints:
        v = view("complaints")
        if v != "absent":
            settings = load_settings(platform.policies)
            now = datetime.now(UTC)
            part = {"category": "complaints", "view": v, "open": len(open_complaints)}
            if v == "plain":
                part["items"] = [complaints_svc.as_json(c, settings, now) for c in open_complaints]
            out["complaints"] = part
    return out if set(out) - {"as_of"} else None
