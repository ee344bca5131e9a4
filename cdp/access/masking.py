"""Masking and generalisation of single values: the only place values are shortened.

Each function takes a plaintext value and returns a string that keeps only what the
``masked`` / ``redacted`` views promise (e.g. phone ``138****5678``, resident ID
``110***********703X``, name ``张*``, address cut to province or city).
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

_MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市", "北京", "上海", "天津", "重庆")
_PROVINCE = re.compile(r"^(.{2,12}?(?:省|自治区|特别行政区))")
_CITY = re.compile(r"^(.{1,12}?(?:市|自治州|地区|盟))")
_DISTRICT = re.compile(r"^(.{1,12}?(?:区|县|市|旗))")


def _stars(n: int) -> str:
    return "*" * max(n, 1)


def mask_phone(value: str) -> str:
    """Keep the first three and last four digits of the national number: 138****5678."""
    digits = re.sub(r"\D", "", value or "")
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) < 8:
        return _stars(len(digits) or 4)
    return digits[:3] + _stars(len(digits) - 7) + digits[-4:]


def mask_email(value: str) -> str:
    local, _, domain = (value or "").partition("@")
    if not domain:
        return _stars(len(local))
    return (local[:1] or "*") + "***@" + domain


def mask_government_id(value: str) -> str:
    """Resident ID: first three and last four kept (110***********703X); others alike."""
    v = (value or "").strip()
    if len(v) >= 15:
        return v[:3] + _stars(len(v) - 7) + v[-4:]
    if len(v) >= 6:
        return v[:1] + _stars(len(v) - 3) + v[-2:]
    return _stars(len(v))


def mask_token(value: str) -> str:
    """Platform ids and other opaque tokens: two characters each side."""
    v = value or ""
    if len(v) <= 6:
        return _stars(len(v))
    return v[:2] + _stars(len(v) - 4) + v[-2:]


def mask_name(value: str) -> str:
    """The family name (first character) only: 张三 -> 张*, John Smith -> J*** S****."""
    v = (value or "").strip()
    if not v:
        return v
    if v.isascii():
        return " ".join(w[:1] + _stars(len(w) - 1) for w in v.split())
    return v[:1] + _stars(len(v) - 1)


def mask_identifier(id_type: str, value: str) -> str:
    if id_type == "phone":
        return mask_phone(value)
    if id_type == "email":
        return mask_email(value)
    if id_type in ("national_id", "passport"):
        return mask_government_id(value)
    return mask_token(value)


def address_parts(value: str) -> tuple[str | None, str | None, str | None]:
    """(province, city, district) of a Chinese postal address, None where not recognised."""
    v = re.sub(r"\s+", "", value or "")
    province = city = district = None
    for m in _MUNICIPALITIES:
        if v.startswith(m):
            province = city = m if m.endswith("市") else m + "市"
            rest = v[len(m) :]
            rest = rest.removeprefix("市")
            d = _DISTRICT.match(rest)
            return province, city, d.group(1) if d else None
    p = _PROVINCE.match(v)
    rest = v
    if p:
        province = p.group(1)
        rest = v[p.end() :]
    c = _CITY.match(rest)
    if c:
        city = c.group(1)
        rest = rest[c.end() :]
        d = _DISTRICT.match(rest)
        district = d.group(1) if d else None
    return province, city, district


def generalise_address(value: str, level: str) -> str:
    """The address cut to ``level`` (province | city | district); [REDACTED] if unparsable."""
    province, city, district = address_parts(value)
    if level == "province":
        return province or REDACTED
    if level == "city":
        if city is None:
            return REDACTED
        return city if province in (None, city) else province + city
    if level == "district":
        if city is None:
            return REDACTED
        head = city if province in (None, city) else province + city
        return head + (district or "")
    return REDACTED


def mask_address(value: str) -> str:
    """Down to the district, then stars: 北京市朝阳区****."""
    head = generalise_address(value, "district")
    return REDACTED if head == REDACTED else head + "****"


def mask_birth_date(value: str) -> str:
    """YYYY-**-**: the year only."""
    v = str(value or "")
    return v[:4] + "-**-**" if len(v) >= 4 else _stars(4)


def decade(value: str) -> str:
    """A birth date generalised to its decade: 1985-04-12 -> 1980s."""
    v = str(value or "")
    return v[:3] + "0s" if len(v) >= 4 and v[:4].isdigit() else REDACTED


def mask_generic(value: Any) -> Any:
    """Mask every string leaf of a JSON value; numbers and booleans become stars too."""
    if isinstance(value, dict):
        return {k: mask_generic(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_generic(v) for v in value]
    if value is None:
        return None
    s = str(value)
    if len(s) <= 4:
        return _stars(len(s))
    return s[:1] + _stars(len(s) - 3) + s[-2:]
