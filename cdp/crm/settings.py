"""CRM policy: policies/crm.toml (settings) and policies/catalog.toml (SKU -> ATC, days).

Both are validated at load; a bad value raises PolicyError naming the file and the key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from cdp.errors import CdpError
from cdp.policyfiles import PolicyFileError, PolicyFiles

PRIORITIES = ("urgent", "high", "normal", "low")
CATEGORIES = ("delivery", "product_quality", "adverse_drug_reaction", "billing", "privacy",
              "service")


class CrmPolicyError(CdpError):
    def __init__(self, message: str):
        super().__init__(message, code="crm_policy_invalid", status=500)


@dataclass(frozen=True)
class DrugClass:
    name: str
    prefixes: tuple[str, ...]
    chronic: bool


@dataclass(frozen=True)
class Sla:
    first_response_hours: float
    resolution_hours: float


@dataclass(frozen=True)
class CrmSettings:
    tz: ZoneInfo
    discount_rate: float
    horizon_days: int
    value_months: int
    time_unit: str
    alive_threshold: float
    min_value_score: int
    adherence_threshold: float
    long_supply_days: int
    classes: dict[str, DrugClass]
    loyalty_rate: float
    loyalty_exclude_rx: bool
    loyalty_expiry_days: int
    tier_period_days: int
    tiers: tuple[tuple[str, int], ...]  # ascending thresholds
    sla: dict[str, Sla]
    adr_serious_days: int
    adr_other_days: int
    keywords: tuple[tuple[str, tuple[str, ...]], ...]
    followup_new_chronic_days: int
    followup_low_adherence_days: int
    followup_complaint_days: int
    min_count: int
    catalog: dict[str, tuple[str, int]] = field(default_factory=dict)

    @functools.cached_property
    def class_prefixes(self) -> dict[str, tuple[str, ...]]:
        return {n: c.prefixes for n, c in self.classes.items()}

    @property
    def chronic_classes(self) -> frozenset[str]:
        return frozenset(n for n, c in self.classes.items() if c.chronic)

    def tier_for(self, points: int) -> str:
        """The highest tier whose threshold ``points`` reaches."""
        name = self.tiers[0][0]
        for tier, threshold in self.tiers:
            if points >= threshold:
                name = tier
        return name

    def tier_rank(self, tier: str) -> int:
        return [t for t, _ in self.tiers].index(tier) if tier in dict(self.tiers) else 0


def _get(doc: dict[str, Any], where: str, key: str, kind: type | tuple[type, ...],
         default: Any = None) -> Any:
    value = doc.get(key, default)
    if value is None or isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise CrmPolicyError(f"crm.toml: {where}{key} must be a {getattr(kind, '__name__', kind)}")
    return value


def _num(doc: dict[str, Any], where: str, key: str, default: Any = None, *,
         lo: float | None = None, hi: float | None = None) -> float:
    v = _get(doc, where, key, (int, float), default)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise CrmPolicyError(f"crm.toml: {where}{key} must be between {lo} and {hi}")
    return float(v)


def load_catalog(policies: PolicyFiles) -> dict[str, tuple[str, int]]:
    """SKU -> (ATC code, days of supply per unit), from catalog.toml (empty when absent)."""
    if not policies.exists("catalog.toml"):
        return {}
    doc = _document(policies, "catalog.toml")
    out: dict[str, tuple[str, int]] = {}
    for sku, spec in (doc.get("sku") or {}).items():
        atc, days = spec.get("atc"), spec.get("days_per_unit")
        if not isinstance(atc, str) or not atc.isalnum() or not 1 <= len(atc) <= 7:
            raise CrmPolicyError(f"catalog.toml: sku.{sku}.atc must be an ATC code")
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise CrmPolicyError(f"catalog.toml: sku.{sku}.days_per_unit must be a whole number")
        out[sku] = (atc.upper(), days)
    return out


def parse_settings(doc: dict[str, Any], catalog: dict[str, tuple[str, int]]) -> CrmSettings:
    try:
        tz = ZoneInfo(_get(doc, "", "timezone", str, "Asia/Shanghai"))
    except Exception:  # noqa: BLE001 - zoneinfo raises several kinds
        raise CrmPolicyError("crm.toml: timezone is not a known time zone") from None
    clv, churn = doc.get("clv", {}), doc.get("churn", {})
    adh, loy = doc.get("adherence", {}), doc.get("loyalty", {})
    comp, fol, priv = doc.get("complaints", {}), doc.get("followup", {}), doc.get("privacy", {})
    classes: dict[str, DrugClass] = {}
    for name, spec in (adh.get("classes") or {}).items():
        prefixes = spec.get("prefixes")
        if not isinstance(prefixes, list) or not prefixes or not all(
            isinstance(p, str) and p.isalnum() for p in prefixes
        ):
            raise CrmPolicyError(f"crm.toml: adherence.classes.{name}.prefixes must list ATC prefixes")
        classes[name] = DrugClass(name, tuple(p.upper() for p in prefixes), bool(spec.get("chronic")))
    tiers_doc = loy.get("tiers") or {"member": 0}
    tiers = tuple(sorted(((str(k), int(v)) for k, v in tiers_doc.items()), key=lambda t: t[1]))
    if tiers[0][1] != 0:
        raise CrmPolicyError("crm.toml: loyalty.tiers needs a tier at 0 points")
    sla: dict[str, Sla] = {}
    for prio in PRIORITIES:
        spec = (comp.get("sla") or {}).get(prio)
        if not isinstance(spec, dict):
            raise CrmPolicyError(f"crm.toml: complaints.sla.{prio} is missing")
        sla[prio] = Sla(_num(spec, f"complaints.sla.{prio}.", "first_response_hours", lo=0),
                        _num(spec, f"complaints.sla.{prio}.", "resolution_hours", lo=0))
    keywords = []
    for cat, words in (comp.get("keywords") or {}).items():
        if cat not in CATEGORIES:
            raise CrmPolicyError(f"crm.toml: complaints.keywords.{cat} is not a category")
        keywords.append((cat, tuple(str(w).lower() for w in words)))
    time_unit = _get(clv, "clv.", "time_unit", str, "weeks")
    if time_unit not in ("days", "weeks"):
        raise CrmPolicyError("crm.toml: clv.time_unit must be days or weeks")
    adr = comp.get("adr", {})
    return CrmSettings(
        tz=tz,
        discount_rate=_num(clv, "clv.", "discount_rate", 0.10, lo=0, hi=1),
        horizon_days=int(_num(clv, "clv.", "horizon_days", 90, lo=1)),
        value_months=int(_num(clv, "clv.", "value_months", 12, lo=1, hi=120)),
        time_unit=time_unit,
        alive_threshold=_num(churn, "churn.", "alive_threshold", 0.5, lo=0, hi=1),
        min_value_score=int(_num(churn, "churn.", "min_value_score", 4, lo=1, hi=5)),
        adherence_threshold=_num(adh, "adherence.", "threshold", 0.8, lo=0, hi=1),
        long_supply_days=int(_num(adh, "adherence.", "long_supply_days", 84, lo=1)),
        classes=classes,
        loyalty_rate=_num(loy, "loyalty.", "rate", 1.0, lo=0),
        loyalty_exclude_rx=bool(_get(loy, "loyalty.", "exclude_rx", bool, True)),
        loyalty_expiry_days=int(_num(loy, "loyalty.", "expiry_days", 365, lo=1)),
        tier_period_days=int(_num(loy, "loyalty.", "tier_period_days", 365, lo=1)),
        tiers=tiers,
        sla=sla,
        adr_serious_days=int(_num(adr, "complaints.adr.", "serious_or_new_days", 15, lo=0)),
        adr_other_days=int(_num(adr, "complaints.adr.", "other_days", 30, lo=0)),
        keywords=tuple(keywords),
        followup_new_chronic_days=int(_num(fol, "followup.", "new_chronic_days", 14, lo=0)),
        followup_low_adherence_days=int(_num(fol, "followup.", "low_adherence_days", 3, lo=0)),
        followup_complaint_days=int(_num(fol, "followup.", "complaint_days", 7, lo=0)),
        min_count=int(_num(priv, "privacy.", "min_count", 10, lo=1)),
        catalog=catalog,
    )


def _document(policies: PolicyFiles, name: str) -> dict[str, Any]:
    try:
        return policies.document(name, default={})
    except PolicyFileError as exc:  # not valid TOML: the file and line
        raise CrmPolicyError(exc.message) from None


def _build(policies: PolicyFiles) -> CrmSettings:
    return parse_settings(_document(policies, "crm.toml"), load_catalog(policies))


def load_settings(policies: PolicyFiles) -> CrmSettings:
    """The CRM settings of ``policies`` (re-read when crm.toml or catalog.toml changes)."""
    return policies.load("crm", _build)
