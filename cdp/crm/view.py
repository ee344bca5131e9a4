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
from typing import Any, NamedTuple

from sqlalchemy import BindParameter, and_, bindparam, exists, select
from sqlalchemy.orm import Session

from cdp.access.policy import CategoryView, PolicySet
from cdp.access.render import RenderSummary
from cdp.crm import complaints as complaints_svc
from cdp.crm import gates, loyalty
from cdp.crm.models import Complaint, CrmProfile, LoyaltyAccount, LoyaltyEntry
from cdp.crm.segments import load_segments
from cdp.crm.settings import load_settings
from cdp.crypto import fields
from cdp.crypto.models import DataKey
from cdp.db.driver_sql import DriverStatement
from cdp.errors import DecryptionError
from cdp.identity.models import Customer

SCORE_KEYS = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
              "first_order", "last_order", "channels", "p_alive", "churn_score", "expected_90d",
              "clv_12m", "value_score")


_ID: BindParameter[str] = bindparam("id")
_P, _K = CrmProfile.__table__.c, DataKey.__table__.c
# What the section needs to know of one customer, in one statement (every customer read runs
# it, and most customers have no CRM data at all): the last refresh's traits with their data
# key, and whether there are loyalty points or open complaints. Anchored on the customer's
# row, so there is exactly one row for a customer that exists.
_STATE = DriverStatement(
    select(
        _P.data_key_id, _P.traits_ct, _P.as_of, _K.wrapped, _K.kek_version,
        exists().where(LoyaltyEntry.__table__.c.customer_id == _ID).label("has_entries"),
        exists().where(LoyaltyAccount.__table__.c.customer_id == _ID).label("has_account"),
        exists().where(and_(Complaint.__table__.c.customer_id == _ID,
                            Complaint.__table__.c.state != "closed")).label("has_open"),
    )
    .select_from(Customer.__table__)
    .outerjoin(CrmProfile.__table__, _P.customer_id == Customer.__table__.c.id)
    .outerjoin(DataKey.__table__, _K.id == _P.data_key_id)
    .where(Customer.__table__.c.id == _ID)
)


class _WrappedKey(NamedTuple):
    """The columns of a data key row KeyService.unwrap needs."""

    id: str
    wrapped: bytes | None
    kek_version: int


def _traits(platform: Any, customer_id: str, row: Any) -> dict[str, Any] | None:
    """The decrypted traits of the last refresh (as ``cdp.crm.reads.load_traits`` gives
    them), or None: no refresh yet, its data key destroyed, or not decryptable."""
    if row.traits_ct is None or row.wrapped is None:
        return None
    dek = platform.keys.unwrap(_WrappedKey(row.data_key_id, row.wrapped, row.kek_version))
    try:
        t: dict[str, Any] = fields.decrypt_json(
            dek, row.traits_ct, fields.field_aad("crm_profiles", "traits_ct", customer_id))
    except DecryptionError:
        return None
    t["as_of"] = row.as_of.isoformat()
    return t


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
    if session.autoflush:
        session.flush()  # what the ORM queries this replaces would have seen
    state = _STATE.rows(session.connection(), {"id": customer_id})
    if not state:
        return None
    [row] = state
    traits = _traits(platform, customer_id, row)
    has_points = bool(row.has_entries or row.has_account)
    open_complaints = list(session.scalars(select(Complaint).where(
        Complaint.customer_id == customer_id, Complaint.state != "closed")
        .order_by(Complaint.opened_at))) if row.has_open else []
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
