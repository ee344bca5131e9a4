"""Field transforms of export profiles, each with its generalisation hierarchy.

``apply(spec, value, ctx)`` returns the output value; for a quasi-identifier it returns the
whole hierarchy (most specific first, ``"*"`` last), so k-anonymity can generalise further
without reading the data again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cdp.crypto.blind_index import keyed_pseudonym
from cdp.exports.profiles import FieldSpec
from cdp.policyfiles import PolicyFiles

SUPPRESSED = "*"
_MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市")
_PROVINCE_RE = re.compile(r"^(.{2,8}?(?:特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|省))")
_CITY_RE = re.compile(r"^(.{1,8}?(?:自治州|地区|市|州|盟))")


@dataclass
class Context:
    """What transforms need besides the value: keys for this recipient and the run date."""

    pseudonym_key: bytes
    date_shift_key: bytes
    today: date
    customer_id: str = ""
    # The current customer's own names and identifiers (see rows.known_values).
    known: list[str] = field(default_factory=list)
    # The platform's policy files (the ``redact`` transform's PII operator sets).
    policies: PolicyFiles | None = None


def split_address(address: str) -> tuple[str, str]:
    """(province, city) of a mainland Chinese address; "" for a part that is not found.

    Only the administrative head is read, so house numbers never reach the output.
    """
    text = address.replace(" ", "").replace("\u3000", "")
    for m in _MUNICIPALITIES:
        if text.startswith(m) or text.startswith(m[:-1]):
            return m, m
    pm = _PROVINCE_RE.match(text)
    province = pm.group(1) if pm else ""
    rest = text[len(province):]
    cm = _CITY_RE.match(rest)
    city = cm.group(1) if cm else ""
    return province, city


def _parse_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return dt.astimezone(UTC).date() if dt.tzinfo else dt.date()
    except ValueError:
        return None


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _band(age: int, width: int) -> str:
    lo = (age // width) * width
    return f"{lo}-{lo + width - 1}"


def date_shift_days(key: bytes, customer_id: str, max_days: int) -> int:
    """A per-customer shift in [-max_days, max_days] \\ {0}, stable for one recipient."""
    digest = hmac.new(key, customer_id.encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big") % (2 * max_days)
    return n - max_days if n < max_days else n - max_days + 1


def depth(spec: FieldSpec) -> int:
    """How many generalisation levels the transform of ``spec`` has (the last is "*")."""
    t = spec.transform
    if t == "region":
        return 3 if spec.params.get("level", "city") == "city" else 2
    return {"age_band": 4, "month": 4, "bucket": 3}.get(t, 2)


def hierarchy(spec: FieldSpec, value: Any, ctx: Context) -> tuple[Any, ...]:
    """Every generalisation level of ``value`` for a quasi-identifier, most specific first,
    always ``depth(spec)`` long and ending in "*"."""
    n = depth(spec)
    levels = _levels(spec, value, ctx)
    if not levels:
        return (SUPPRESSED,) * n
    # Pad by repeating the coarsest real level, so one level index means one generalisation.
    while len(levels) < n - 1:
        levels.append(levels[-1])
    return (*levels[: n - 1], SUPPRESSED)


def _levels(spec: FieldSpec, value: Any, ctx: Context) -> list[Any]:
    t = spec.transform
    p = spec.params
    if value is None or value == "":
        return []
    if t == "age_band":
        birth = _parse_date(value)
        if birth is None:
            return []
        age = age_on(birth, ctx.today)
        width = int(p.get("band", 10))
        return [_band(age, width), _band(age, width * 2), "60+" if age >= 60 else "<60"]
    if t == "region":
        province, city = split_address(str(value))
        levels = []
        if p.get("level", "city") == "city" and city:
            levels.append(f"{province}{city}" if province != city else city)
        if province:
            levels.append(province)
        return levels
    if t == "month":
        d = _parse_date(value)
        if d is None:
            return []
        return [f"{d.year}-{d.month:02d}", f"{d.year}-Q{(d.month - 1) // 3 + 1}", str(d.year)]
    if t == "bucket":
        width = p.get("width", 10)
        try:
            lo = (float(value) // width) * width
        except (TypeError, ValueError):
            return []
        wide = width * 5
        return [f"{lo:g}-{lo + width:g}", f"{(lo // wide) * wide:g}-{(lo // wide) * wide + wide:g}"]
    # keep (categorical)
    return [value if isinstance(value, str | int | float | bool) else str(value)]


def apply(spec: FieldSpec, value: Any, ctx: Context) -> Any:
    """The output value of one field for one row (the most specific level for a QI)."""
    t = spec.transform
    p = spec.params
    if t in ("age_band", "region", "month", "bucket"):
        return hierarchy(spec, value, ctx)[0]
    if value is None or value == "":
        return None
    if t == "keep":
        return value
    if t == "pseudonym":
        # The source name is mixed in so one person's phone and member id give unrelated tokens.
        return keyed_pseudonym(ctx.pseudonym_key, f"{spec.source}|{value}", int(p.get("length", 20)))
    if t == "mask":
        text = str(value)
        first, last = int(p.get("keep_first", 0)), int(p.get("keep_last", 0))
        if first + last >= len(text):
            return "*" * len(text)
        return text[:first] + "*" * (len(text) - first - last) + (text[-last:] if last else "")
    if t == "redact":
        from cdp.pii.redact import redact_text

        text = redact_text(str(value), policy=str(p.get("policy", "redacted")),
                           key=ctx.pseudonym_key, policies=ctx.policies).text
        # Belt and braces: the engine can miss a short or unusual name; the customer's own
        # known values are removed whatever it found.
        for known in ctx.known:
            if known in text:
                text = text.replace(known, "<REDACTED>")
        return text
    if t == "date_shift":
        d = _parse_date(value)
        if d is None:
            return None
        days = date_shift_days(ctx.date_shift_key, ctx.customer_id, int(p.get("max_days", 30)))
        return (d + timedelta(days=days)).isoformat()
    raise ValueError(f"unknown transform {t}")


def output_type(spec: FieldSpec) -> str:
    """Column type in the manifest schema and the Parquet file."""
    if spec.transform == "keep" and spec.source in (
        "order_count", "rx_order_count", "interaction_count"
    ) and not spec.quasi_identifier:
        return "int64"
    if spec.transform == "keep" and spec.source == "total_spend" and not spec.quasi_identifier:
        return "float64"
    return "string"
