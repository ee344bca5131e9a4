"""Flatten one unified customer view (cdp.identity.view) into the source row of exports."""

from __future__ import annotations

import contextlib
from typing import Any

IDENTIFIER_FIELDS = (
    "phone", "email", "national_id", "passport", "member_id", "platform_user_id",
    "wechat_openid", "wechat_unionid", "device_id",
)


def _first_identifier(view: dict[str, Any], kind: str) -> str | None:
    """The smallest valid value of ``kind`` (stable whatever the record order), else any."""
    valid: list[str] = []
    other: list[str] = []
    for ident in view.get("identities", []):
        for i in ident.get("identifiers", []):
            if i.get("type") == kind and i.get("value"):
                (valid if i.get("status") == "valid" else other).append(str(i["value"]))
    if valid:
        return min(valid)
    return min(other) if other else None


def _profile_value(view: dict[str, Any], key: str) -> Any:
    entry = (view.get("profile") or {}).get(key)
    return entry.get("value") if isinstance(entry, dict) else None


def current_consents(consents: list[dict[str, Any]]) -> dict[str, bool]:
    """Purpose -> granted, the newest decision per purpose winning."""
    newest: dict[str, tuple[str, bool]] = {}
    for c in consents:
        at = str(c.get("at") or "")
        purpose = c.get("purpose")
        if purpose is None:
            continue
        if purpose not in newest or at >= newest[purpose][0]:
            newest[purpose] = (at, bool(c.get("granted")))
    return {p: g for p, (_, g) in newest.items()}


def customer_row(view: dict[str, Any]) -> dict[str, Any]:
    """The flat row every export profile's fields are drawn from (see profiles.SOURCE_FIELDS)."""
    orders = list(view.get("orders", [])) + list(view.get("prescriptions", []))
    times = sorted(str(o["ordered_at"]) for o in orders if o.get("ordered_at"))
    total = 0.0
    for o in orders:
        with contextlib.suppress(TypeError, ValueError):  # a malformed total counts as none
            total += float(o.get("total") or 0)
    interactions = view.get("interactions", [])
    row: dict[str, Any] = {
        "customer_id": view["customer_id"],
        "name": _profile_value(view, "name"),
        "gender": _profile_value(view, "gender"),
        "birth_date": _profile_value(view, "birth_date"),
        "address": _profile_value(view, "address"),
        "channels": ";".join(sorted({i["source"] for i in view.get("identities", []) if i.get("source")})),
        "order_count": len(orders),
        "rx_order_count": len(view.get("prescriptions", [])),
        "total_spend": round(total, 2),
        "first_order_at": times[0] if times else None,
        "last_order_at": times[-1] if times else None,
        "interaction_count": len(interactions),
        "interaction_text": "\n".join(str(i.get("text") or "") for i in interactions) or None,
        "consented_purposes": ";".join(
            sorted(p for p, g in current_consents(view.get("consents", [])).items() if g)
        ),
        "created_at": view.get("created_at"),
    }
    for kind in IDENTIFIER_FIELDS:
        row[kind] = _first_identifier(view, kind)
    row["_known"] = known_values(view)
    return row


def known_values(view: dict[str, Any]) -> list[str]:
    """Every name, address and identifier value held for the customer, longest first: free
    text is scrubbed of these too, so a name the PII engine misses still never leaves."""
    out: set[str] = set()
    for key in ("name", "address"):
        entry = (view.get("profile") or {}).get(key) or {}
        for v in [entry.get("value"), *(x.get("value") for x in entry.get("values", []))]:
            if isinstance(v, str) and len(v.strip()) >= 2:
                out.add(v.strip())
    for ident in view.get("identities", []):
        for i in ident.get("identifiers", []):
            v = i.get("value")
            if isinstance(v, str) and len(v.strip()) >= 4:
                out.add(v.strip())
    return sorted(out, key=lambda v: (-len(v), v))
