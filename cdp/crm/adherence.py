"""Proportion of days covered (PQA method) and refill due dates, as pure functions.

The rules, exactly as policies/crm.toml documents them:

- a class is a set of ATC prefixes (statins = C10AA, ras = C09, diabetes = A10B, ...);
- the measurement year is a calendar year; only fills dated inside it count;
- a class needs at least two fills on different dates in the year;
- the period runs from the class's first fill in the year (the index date) to 31 December;
- a refill of the same drug (same full ATC code) before its supply runs out starts the day
  after the earlier supply runs out; overlapping supplies of different drugs of one class
  count each day once;
- supply past 31 December is cut; PDC = covered days / days in the period; adherent when
  PDC >= the threshold (0.80).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Fill:
    """One dispensing: the day (Asia/Shanghai), the full ATC code and days of supply."""

    day: date
    atc: str
    days_supply: int


@dataclass(frozen=True)
class ClassPdc:
    cls: str
    fills: int
    covered_days: int
    period_days: int
    pdc: float
    adherent: bool


@dataclass(frozen=True)
class RefillDue:
    atc: str
    last_fill: date
    runs_out: date  # the last day covered
    due: date  # the day after the supply runs out
    long_supply: bool  # a single fill above the long-prescription limit


def class_of(atc: str, classes: Mapping[str, Iterable[str]]) -> list[str]:
    """Every class whose prefixes ``atc`` starts with."""
    key = _KEYS.get(id(classes))
    if key is None or key[0] is not classes:
        key = (classes, tuple((name, tuple(prefixes)) for name, prefixes in classes.items()))
        _KEYS[id(classes)] = key
    return list(_class_of(atc.upper(), key[1]))


# the hashable form of a classes mapping, by identity (settings hold one mapping for life)
_KEYS: dict[int, tuple[Mapping[str, Iterable[str]], tuple[tuple[str, tuple[str, ...]], ...]]] = {}


@functools.lru_cache(maxsize=4096)
def _class_of(code: str, classes: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[str, ...]:
    return tuple(name for name, prefixes in classes if code.startswith(prefixes))


def _drug_intervals(fills: list[Fill]) -> list[tuple[date, date]]:
    """Covered [start, end] days of one drug (one full ATC code), fills in date order:
    a fill arriving before the previous supply ran out starts the day after it runs out."""
    out: list[tuple[date, date]] = []
    next_free: date | None = None
    for f in sorted(fills, key=lambda f: f.day):
        if f.days_supply <= 0:
            continue
        start = f.day if next_free is None or f.day >= next_free else next_free
        end = start + timedelta(days=f.days_supply - 1)
        out.append((start, end))
        next_free = end + timedelta(days=1)
    return out


def pdc_for_class(
    cls: str, fills: list[Fill], year: int, threshold: float
) -> ClassPdc | None:
    """PDC of one class in ``year`` from that class's fills (any dates); None when the class
    does not qualify (fewer than two fills on different dates inside the year)."""
    start_y, end_y = date(year, 1, 1), date(year, 12, 31)
    inside = [f for f in fills if start_y <= f.day <= end_y]
    if len({f.day for f in inside}) < 2:
        return None
    index = min(f.day for f in inside)
    by_drug: dict[str, list[Fill]] = defaultdict(list)
    for f in inside:
        by_drug[f.atc.upper()].append(f)
    spans: list[tuple[date, date]] = []
    for drug_fills in by_drug.values():
        for s, e in _drug_intervals(drug_fills):
            s, e = max(s, index), min(e, end_y)
            if s <= e:
                spans.append((s, e))
    # the union of the spans: a day covered by two drugs of the class counts once
    covered_days = 0
    cur_s: date | None = None
    cur_e = index
    for s, e in sorted(spans):
        if cur_s is None or s > cur_e + timedelta(days=1):
            if cur_s is not None:
                covered_days += (cur_e - cur_s).days + 1
            cur_s, cur_e = s, e
        elif e > cur_e:
            cur_e = e
    if cur_s is not None:
        covered_days += (cur_e - cur_s).days + 1
    period = (end_y - index).days + 1
    pdc = covered_days / period
    return ClassPdc(cls, len(inside), covered_days, period, round(pdc, 4), pdc >= threshold)


def adherence(
    fills: Iterable[Fill], classes: Mapping[str, Iterable[str]], year: int, threshold: float
) -> list[ClassPdc]:
    """Per qualifying class, its PDC in ``year`` (classes in name order)."""
    by_class: dict[str, list[Fill]] = defaultdict(list)
    for f in fills:
        for c in class_of(f.atc, classes):
            by_class[c].append(f)
    out = []
    for c in sorted(by_class):
        res = pdc_for_class(c, by_class[c], year, threshold)
        if res is not None:
            out.append(res)
    return out


def refills_due(fills: Iterable[Fill], long_limit: int) -> list[RefillDue]:
    """Per drug (full ATC code), when its supply runs out and the refill is due (the day
    after); fills of one drug chain as in the PDC (early refills start after the last)."""
    by_drug: dict[str, list[Fill]] = defaultdict(list)
    for f in fills:
        by_drug[f.atc.upper()].append(f)
    out = []
    for atc in sorted(by_drug):
        intervals = _drug_intervals(by_drug[atc])
        if not intervals:
            continue
        last = max(by_drug[atc], key=lambda f: f.day)
        runs_out = intervals[-1][1]
        out.append(RefillDue(atc, last.day, runs_out, runs_out + timedelta(days=1),
                             any(f.days_supply > long_limit for f in by_drug[atc])))
    return out
