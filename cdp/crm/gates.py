"""Consent and privacy gates of CRM outputs, decided in one place.

- marketing reads a member only with the customer's newest ``marketing`` consent granted,
  and, for a segment defined over health traits, ``marketing_health`` granted too;
- a customer whose newest ``profiling`` consent is withdrawn objects to profiling (PIPL
  art. 24): no scores, no segment, for anyone;
- care reminders and care tasks only for customers whose newest ``care_reminders`` consent
  is granted;
- aggregates for analysts suppress any count below the policy minimum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.identity.models import Consent

MARKETING = "marketing"
MARKETING_HEALTH = "marketing_health"
CARE = "care_reminders"
PROFILING = "profiling"
CRM_PURPOSES = (MARKETING, MARKETING_HEALTH, CARE, PROFILING)


def newest_consents(
    session: Session, customer_ids: Iterable[str] | None = None,
    purposes: Iterable[str] = CRM_PURPOSES,
) -> dict[str, dict[str, bool]]:
    """customer -> purpose -> the newest decision (later ``at`` wins, then the later row),
    the same rule as the customer view's effective consents."""
    q = (select(Consent.customer_id, Consent.purpose, Consent.granted, Consent.at, Consent.id)
         .where(Consent.purpose.in_(list(purposes))))
    ids = None if customer_ids is None else list(customer_ids)
    out: dict[str, dict[str, bool]] = {}
    latest: dict[tuple[str, str], tuple[datetime, int]] = {}

    def take(rows: Iterable[tuple[str, str, bool, datetime, int]]) -> None:
        for cid, purpose, granted, at, rid in rows:
            key = (cid, purpose)
            prev = latest.get(key)
            if prev is None or (at, rid) >= prev:
                latest[key] = (at, rid)
                out.setdefault(cid, {})[purpose] = bool(granted)

    if ids is None:
        take(session.execute(q).tuples())
    else:
        for start in range(0, len(ids), 500):
            take(session.execute(q.where(Consent.customer_id.in_(ids[start:start + 500]))).tuples())
    return out


def objects_to_profiling(consents: Mapping[str, bool]) -> bool:
    return consents.get(PROFILING) is False


def may_market(consents: Mapping[str, bool], *, health: bool) -> bool:
    """Whether marketing may receive this customer (in a segment over health traits when
    ``health``)."""
    if objects_to_profiling(consents) or consents.get(MARKETING) is not True:
        return False
    return not health or consents.get(MARKETING_HEALTH) is True


def may_remind(consents: Mapping[str, bool]) -> bool:
    return consents.get(CARE) is True


def suppressed(count: int, min_count: int) -> int | None:
    """``count``, or None when it is below the minimum an aggregate may show."""
    return count if count >= min_count else None
