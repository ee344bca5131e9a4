"""Golden record: per profile field, the best value with every source value kept.

Best = the most informative form first (a full name beats an honorific or a nickname), then
the most trusted source (``[trust]`` in policies/identity.toml), then the most recent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cdp.identity import normalize as nz
from cdp.identity.rules import IdentityRules

FIELD_CATEGORY = {"name": "identity", "gender": "identity", "birth_date": "demographic",
                  "address": "address"}
_NAME_QUALITY = {"full": 3, "latin": 2, "other": 1, "honorific": 0, "nickname": 0}


def _quality(field: str, value: Any) -> int:
    if field == "name" and isinstance(value, str):
        kind = nz.name_kind(value)
        return _NAME_QUALITY.get(kind, 1) if kind else 0
    return 1


def display_value(field: str, value: Any) -> Any:
    """A profile value as the golden record shows it (dates and genders in normal form)."""
    if field == "birth_date":
        return nz.normalize_birth_date(value) or value
    if field == "gender":
        return nz.normalize_gender(value) or value
    return value


def golden_profile(observations: list[dict[str, Any]], rules: IdentityRules) -> dict[str, Any]:
    """``observations``: {"source", "source_record_id", "observed_at" (datetime|None),
    "profile": {...}} per source record. Returns the customer view's ``profile`` object (docs/api.md)."""
    out: dict[str, Any] = {}
    for field, category in FIELD_CATEGORY.items():
        values = []
        for ob in observations:
            v = ob["profile"].get(field)
            if v is None or v == "":
                continue
            values.append((ob, display_value(field, v)))
        if not values:
            continue

        def rank(item: tuple[dict[str, Any], Any], field: str = field) -> tuple:
            ob, v = item
            at: datetime | None = ob["observed_at"]
            return (_quality(field, v), rules.trust_of(ob["source"]), at.timestamp() if at else 0.0)

        values.sort(key=rank, reverse=True)
        best_ob, best_v = values[0]
        out[field] = {
            "value": best_v,
            "category": category,
            "source": best_ob["source"],
            "source_record_id": best_ob["source_record_id"],
            "observed_at": _iso(best_ob["observed_at"]),
            "values": [
                {"value": v, "source": ob["source"], "source_record_id": ob["source_record_id"],
                 "observed_at": _iso(ob["observed_at"])}
                for ob, v in values
            ],
        }
    return out


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
