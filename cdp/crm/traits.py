"""Per-customer traits from the customer's facts, before the population-wide steps
(quintiles, model scores, tiers) fill in the rest."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from cdp.access.masking import address_parts
from cdp.crm.adherence import Fill, adherence, class_of, refills_due
from cdp.crm.facts import CustomerFacts, Order
from cdp.crm.settings import CrmSettings
from cdp.identity import normalize as nz

AGE_BANDS = ((18, "<18"), (30, "18-29"), (40, "30-39"), (50, "40-49"), (60, "50-59"),
             (70, "60-69"))


@dataclass(frozen=True)
class Rfm:
    """The purchase history reduced to what the models take (purchase = calendar day)."""

    days: tuple[date, ...]  # distinct purchase days up to as_of, ascending
    day_amounts: tuple[float, ...]


def age_band(birth: str | None, as_of: date) -> str | None:
    if not birth:
        return None
    try:
        b = date.fromisoformat(birth[:10])
    except ValueError:
        return None
    age = as_of.year - b.year - ((as_of.month, as_of.day) < (b.month, b.day))
    if age < 0 or age > 130:
        return None
    for limit, band in AGE_BANDS:
        if age < limit:
            return band
    return "70+"


def fills_of(orders: Iterable[Order], settings: CrmSettings, as_of: date) -> list[Fill]:
    """Dispensings up to ``as_of``: items with an ATC code and a days' supply, from the item
    itself or else the catalog (days per unit x quantity)."""
    out = []
    for o in orders:
        if o.day > as_of:
            continue
        for it in o.items:
            atc, days = it.atc, it.days_supply
            if (atc is None or days is None) and it.sku and it.sku in settings.catalog:
                cat_atc, per_unit = settings.catalog[it.sku]
                atc = atc or cat_atc
                if days is None:
                    days = round(per_unit * it.qty)
            if atc and days:
                out.append(Fill(o.day, atc, int(days)))
    return out


def purchase_days(orders: Iterable[Order], as_of: date) -> Rfm:
    per_day: dict[date, float] = {}
    for o in orders:
        if o.day <= as_of:
            per_day[o.day] = per_day.get(o.day, 0.0) + o.amount
    days = tuple(sorted(per_day))
    return Rfm(days, tuple(per_day[d] for d in days))


def base_traits(f: CustomerFacts, settings: CrmSettings, as_of: date) -> tuple[dict[str, Any], Rfm]:
    """Traits that need only this customer's data, and the purchase days for the models."""
    rfm = purchase_days(f.orders, as_of)
    orders = [o for o in f.orders if o.day <= as_of]
    t: dict[str, Any] = {
        "recency_days": (as_of - rfm.days[-1]).days if rfm.days else None,
        "frequency": len(rfm.days),
        "monetary": round(sum(rfm.day_amounts), 2),
        "first_order": rfm.days[0].isoformat() if rfm.days else None,
        "last_order": rfm.days[-1].isoformat() if rfm.days else None,
        "channels": sorted({o.source for o in orders}),
    }
    prof = f.profile
    addr = (prof.get("address") or {}).get("value")
    province, city = (address_parts(addr)[:2] if isinstance(addr, str) else (None, None))
    t["province"], t["city"] = province, city
    birth = (prof.get("birth_date") or {}).get("value")
    birth = nz.normalize_birth_date(birth) if isinstance(birth, str) else None
    t["age_band"] = age_band(birth, as_of)
    t["birthday"] = birth[5:10] if birth else None
    gender = (prof.get("gender") or {}).get("value")
    t["gender"] = gender if isinstance(gender, str) else None

    fills = fills_of(orders, settings, as_of)
    prefixes = settings.class_prefixes
    chronic = settings.chronic_classes  # a property: built anew on each access
    t["atc_codes"] = sorted({fl.atc for fl in fills})
    classes_first: dict[str, date] = {}
    recent: set[str] = set()
    for fl in fills:
        for c in class_of(fl.atc, prefixes):
            if c not in classes_first or fl.day < classes_first[c]:
                classes_first[c] = fl.day
            if fl.day > as_of - timedelta(days=365):
                recent.add(c)
    t["drug_classes"] = sorted(classes_first)
    t["chronic_classes"] = sorted(c for c in recent if c in chronic)
    t["class_first_fill"] = {c: d.isoformat() for c, d in sorted(classes_first.items())
                             if c in chronic}
    adh = adherence(fills, prefixes, as_of.year, settings.adherence_threshold)
    t["adherence"] = [
        {"class": a.cls, "year": as_of.year, "fills": a.fills, "pdc": a.pdc, "adherent": a.adherent,
         "covered_days": a.covered_days, "period_days": a.period_days}
        for a in adh
    ]
    t["adherent_classes"] = [a.cls for a in adh if a.adherent]
    t["nonadherent_classes"] = [a.cls for a in adh if not a.adherent]
    refills = []
    for r in refills_due(fills, settings.long_supply_days):
        cls = class_of(r.atc, prefixes)
        if not cls:
            continue  # reminders are for the medicines of the care classes
        refills.append({"atc": r.atc, "class": cls[0], "last_fill": r.last_fill.isoformat(),
                        "runs_out": r.runs_out.isoformat(), "due": r.due.isoformat(),
                        "long_supply": r.long_supply})
    t["refills"] = refills
    return t, rfm


def quintile_scores(values: np.ndarray) -> np.ndarray:
    """1-5 by rank (ties share the average rank): 5 = the top fifth."""
    n = values.size
    if n == 0:
        return np.zeros(0, dtype=int)
    order = values.argsort(kind="mergesort")
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.arange(n, dtype=np.float64)
    # average rank over ties, so equal values always get the same score
    _, inv = np.unique(values, return_inverse=True)
    sums = np.bincount(inv, weights=ranks)
    counts = np.bincount(inv)
    avg = (sums / counts)[inv]
    return np.minimum(5, (avg * 5 // n).astype(int) + 1)
