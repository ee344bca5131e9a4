"""The CRM aggregates of the analytics screen: segment sizes and movement, retention and
churn, adherence distribution, complaints and their SLA.

Counts only, read through the CRM's service layer (``cdp.crm.reads``, ``gates``,
``complaints``): no customer id leaves this module. Every count below the floor is None
(suppressed); the floor is the larger of the console's ``[charts] min_count`` and the CRM's
``[privacy] min_count``, so no screen shows less than the API would suppress.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cdp.crm import complaints as complaints_svc
from cdp.crm import gates, reads
from cdp.crm.models import CrmProfile
from cdp.crm.segments import Segment
from cdp.crm.settings import CrmSettings

WEEKS = 12
# PDC bands of the adherence distribution (lower bounds); the last band is "adherent".
PDC_BANDS = (0.0, 0.2, 0.4, 0.6, 0.8)


def local_today(settings: CrmSettings) -> date:
    return datetime.now(UTC).astimezone(settings.tz).date()


def week_starts(settings: CrmSettings, weeks: int = WEEKS) -> list[date]:
    """The Mondays (CRM time zone) of the last ``weeks`` weeks, this week last."""
    monday = local_today(settings)
    monday -= timedelta(days=monday.weekday())
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def _utc(d: date, settings: CrmSettings) -> datetime:
    return datetime.combine(d, time(), settings.tz).astimezone(UTC)


@dataclass
class SegmentRow:
    name: str
    description: str
    health: bool
    size: int | None
    entered: int | None  # this week (since Monday, CRM time zone)
    left: int | None
    weekly: list[tuple[str, int | None, int | None]] = field(default_factory=list)


def segments(session: Session, settings: CrmSettings, defs: dict[str, Segment],
             floor: int) -> list[SegmentRow]:
    """Every segment with its current size and its entries and exits per week."""
    sizes = reads.segment_sizes(session)
    starts = week_starts(settings)
    flows = reads.segment_flow_weekly(session, [_utc(d, settings) for d in starts])
    out = []
    for name, seg in sorted(defs.items()):
        weeks = flows.get(name) or [{"entered": 0, "left": 0} for _ in starts]
        weekly = [(d.isoformat(), gates.suppressed(w["entered"], floor),
                   gates.suppressed(w["left"], floor)) for d, w in zip(starts, weeks, strict=True)]
        out.append(SegmentRow(name, seg.description, seg.health,
                              gates.suppressed(sizes.get(name, 0), floor),
                              weekly[-1][1], weekly[-1][2], weekly))
    return out


def retention(session: Session, settings: CrmSettings,
              floor: int) -> list[tuple[str, int | None, int | None]]:
    """Per value score (1-5): customers scored and how many of them are lapsing."""
    return [(str(v), gates.suppressed(d["customers"], floor), gates.suppressed(d["lapsing"], floor))
            for v, d in reads.retention_counts(session, settings).items() if v]


@dataclass(frozen=True)
class AdherenceDistribution:
    year: int | None
    # class -> (adherent, below the threshold), suppressed
    by_class: list[tuple[str, int | None, int | None]]
    # PDC band label -> patient-classes in it, suppressed
    bands: list[tuple[str, int | None]]


_cache_lock = threading.Lock()
_cache: dict[tuple[Any, ...], tuple[int | None, dict[str, int], dict[str, int], list[int]]] = {}


def _adherence_counts(session: Session, platform: Any) -> tuple[int | None, dict[str, int],
                                                                 dict[str, int], list[int]]:
    """Unsuppressed counts, computed from the decrypted profiles of customers who do not
    object to profiling, once per refresh: the profiles change only when the CRM refresh
    runs, so the key is their number and newest computation time."""
    stamp = session.execute(select(func.count(), func.max(CrmProfile.computed_at))
                            .where(CrmProfile.profiling_objection.is_(False))).one()
    key = (platform.config.database_url, int(stamp[0]), stamp[1])
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    ids = list(session.scalars(select(CrmProfile.customer_id)
                               .where(CrmProfile.profiling_objection.is_(False))))
    traits = reads.load_traits(session, platform, ids)
    entries = [a for t in traits.values() for a in t.get("adherence") or []]
    year = max((int(a["year"]) for a in entries), default=None)
    adherent: dict[str, int] = {}
    below: dict[str, int] = {}
    bands = [0] * len(PDC_BANDS)
    for a in entries:
        if int(a["year"]) != year:
            continue
        target = adherent if a["adherent"] else below
        target[a["class"]] = target.get(a["class"], 0) + 1
        band = max(i for i, lo in enumerate(PDC_BANDS) if float(a["pdc"]) >= lo)
        bands[band] += 1
    result = (year, adherent, below, bands)
    with _cache_lock:
        if len(_cache) > 16:
            _cache.clear()
        _cache[key] = result
    return result


def adherence(session: Session, platform: Any, settings: CrmSettings, floor: int) -> AdherenceDistribution:
    """Patients per drug class who are adherent (PDC >= the threshold) or not, in the year
    of the last refresh, and patient-classes per PDC band."""
    year, adherent, below, bands = _adherence_counts(session, platform)
    classes = sorted(set(adherent) | set(below))
    labels = [f"{lo:.1f}–{hi:.1f}" for lo, hi in zip(PDC_BANDS, PDC_BANDS[1:], strict=False)]
    labels.append(f"≥ {settings.adherence_threshold:.2f}")
    return AdherenceDistribution(
        year,
        [(c, gates.suppressed(adherent.get(c, 0), floor), gates.suppressed(below.get(c, 0), floor))
         for c in classes],
        [(label, gates.suppressed(n, floor)) for label, n in zip(labels, bands, strict=True)],
    )


def months(settings: CrmSettings, n: int = 6) -> list[str]:
    """This month and the ``n - 1`` before it (YYYY-MM, CRM time zone), newest first."""
    d = local_today(settings).replace(day=1)
    out = []
    for _ in range(n):
        out.append(f"{d.year:04d}-{d.month:02d}")
        d = (d - timedelta(days=1)).replace(day=1)
    return out


def complaints(session: Session, settings: CrmSettings, month: str, floor: int) -> list[dict[str, Any]]:
    """The month's complaints per category and channel (volume, SLA met, satisfaction),
    exactly the cells of the API's report: cells under the floor suppressed whole."""
    rep = complaints_svc.monthly_report(session, settings, month, datetime.now(UTC), floor)
    return list(rep["rows"])

