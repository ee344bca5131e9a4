"""One search box: work out which kind of identifier a person typed."""

from __future__ import annotations

import re

_ID18 = re.compile(r"^\d{17}[\dXx]$")
_PHONE_CHARS = re.compile(r"^[+\d][\d\s\-()]{6,22}$")
_CUSTOMER_ID = re.compile(r"^[0-9a-f]{32}$")


def detect(text: str) -> str | None:
    """The identifier type of ``text``: "email", "national_id", "phone", "customer_id" or
    "member_id" (anything else that looks like an id); None for nothing usable.

    The order matters: an 18-character resident ID is all digits (bar a final X) and would
    otherwise pass as a long phone number; a platform's own customer id is 32 hex digits.
    """
    value = text.strip()
    if not value or len(value) > 128:
        return None
    if "@" in value:
        return "email"
    compact = re.sub(r"[\s\-]", "", value)
    if _ID18.match(compact):
        return "national_id"
    if _CUSTOMER_ID.match(value):
        return "customer_id"
    if _PHONE_CHARS.match(value) and sum(c.isdigit() for c in value) >= 7:
        return "phone"
    if re.match(r"^[\w\-.:]{3,64}$", value):
        return "member_id"
    return None
