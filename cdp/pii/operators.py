"""Operators that transform one detected value: mask, redact, replace, pseudonym, encrypt.

Each operator is a function ``(value, entity_type, params, key) -> str``. Which one applies
to which entity type is policy (``policies/pii/*.toml``), not code. Encryption goes through
the platform's own authenticated field encryption (AES-256-GCM with associated data), not
Presidio's unauthenticated AES-CBC operator.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any

import phonenumbers

from cdp.crypto import fields
from cdp.crypto.blind_index import keyed_pseudonym
from cdp.errors import ValidationError

Operator = Callable[[str, str, Mapping[str, Any], "bytes | None"], str]

_SEPARATORS = re.compile(r"[\s\-()（）.]")
ENC_TOKEN = re.compile(r"<enc:([A-Z_]+):([A-Za-z0-9_\-]+=*)>")


def normalise(value: str, entity_type: str) -> str:
    """The canonical form of a value, so one person's number in two layouts pseudonymises
    (and masks) the same way: E.164 for phones, upper case for IDs, lower case for e-mail."""
    if entity_type == "PHONE_NUMBER":
        try:
            num = phonenumbers.parse(value, "CN")
            return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            return re.sub(r"\D", "", value)
    if entity_type in ("CN_RESIDENT_ID", "CN_PASSPORT", "BANK_CARD"):
        return _SEPARATORS.sub("", value).upper()
    if entity_type == "EMAIL_ADDRESS":
        return value.strip().lower()
    return value.strip()


def _national_phone(value: str) -> str:
    try:
        return str(phonenumbers.parse(value, "CN").national_number)
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", value)


def mask(value: str, entity_type: str, params: Mapping[str, Any], key: bytes | None) -> str:
    """Keep ``keep_start`` leading and ``keep_end`` trailing characters, mask the rest.

    Phone numbers are masked on their national number (``138****5678``), IDs and cards on
    their compact form (``110***********703X``); e-mail keeps the domain (``z***@qq.com``).
    """
    char = str(params.get("char", "*"))[:1] or "*"
    keep_start = int(params.get("keep_start", 0))
    keep_end = int(params.get("keep_end", 0))
    if entity_type == "PHONE_NUMBER":
        value = _national_phone(value)
    elif entity_type in ("CN_RESIDENT_ID", "CN_PASSPORT", "BANK_CARD"):
        value = _SEPARATORS.sub("", value)
    elif entity_type == "EMAIL_ADDRESS" and "@" in value:
        local, domain = value.rsplit("@", 1)
        return local[:keep_start] + char * max(3, len(local) - keep_start) + "@" + domain
    n = len(value)
    if keep_start + keep_end >= n:
        # too short to show anything safely: mask all but the first character
        return value[:1] + char * (n - 1) if n > 1 else char
    return value[:keep_start] + char * (n - keep_start - keep_end) + value[n - keep_end :]


def redact(value: str, entity_type: str, params: Mapping[str, Any], key: bytes | None) -> str:
    """Remove the value entirely."""
    return ""


def replace(value: str, entity_type: str, params: Mapping[str, Any], key: bytes | None) -> str:
    """Replace with a fixed string, by default the type tag ``<PHONE_NUMBER>``."""
    return str(params.get("value", f"<{entity_type}>"))


def keep(value: str, entity_type: str, params: Mapping[str, Any], key: bytes | None) -> str:
    """Leave the value as it is (for a view that may see this type in plain)."""
    return value


def pseudonym(value: str, entity_type: str, params: Mapping[str, Any],
              key: bytes | None) -> str:
    """A keyed HMAC pseudonym of the normalised value: stable per key, so joins still work,
    and without the key it cannot be reversed or brute-forced offline."""
    if not key:
        raise ValidationError("the pseudonym operator needs a key")
    length = int(params.get("length", 16))
    digest = keyed_pseudonym(key, f"{entity_type}|{normalise(value, entity_type)}", length)
    return str(params.get("format", "<{type}:{digest}>")).format(type=entity_type,
                                                                  digest=digest)


def encryption_aad(entity_type: str) -> bytes:
    """Associated data for an encrypted span: binds the ciphertext to its entity type."""
    return fields.field_aad("pii_span", entity_type, "inline")


def encrypt(value: str, entity_type: str, params: Mapping[str, Any], key: bytes | None) -> str:
    """``<enc:TYPE:base64url>`` of AES-256-GCM(value) via :mod:`cdp.crypto.fields`."""
    if not key or len(key) != 32:
        raise ValidationError("the encrypt operator needs a 32-byte key")
    blob = fields.encrypt(key, value.encode("utf-8"), encryption_aad(entity_type))
    return f"<enc:{entity_type}:{base64.urlsafe_b64encode(blob).decode('ascii')}>"


def decrypt_token(key: bytes, token: str) -> tuple[str, str]:
    """Open one ``<enc:TYPE:...>`` token: returns (entity type, original value)."""
    m = ENC_TOKEN.fullmatch(token)
    if not m:
        raise ValidationError("not an encrypted-span token")
    blob = base64.urlsafe_b64decode(m.group(2).encode("ascii"))
    return m.group(1), fields.decrypt(key, blob, encryption_aad(m.group(1))).decode("utf-8")


OPERATORS: dict[str, Operator] = {
    "mask": mask,
    "redact": redact,
    "replace": replace,
    "keep": keep,
    "pseudonym": pseudonym,
    "encrypt": encrypt,
}
