"""The identifier and profile vocabulary of source records, in one place.

Identifier types (docs/records.md) with their data category, and the declared profile
fields with theirs. Normalisation, ingest, the customer view and exports all read these.
"""

from __future__ import annotations

IDENTIFIER_CATEGORY: dict[str, str] = {
    "phone": "contact",
    "email": "contact",
    "national_id": "government_id",
    "passport": "government_id",
    "wechat_unionid": "platform_id",
    "wechat_openid": "platform_id",
    "member_id": "platform_id",
    "platform_user_id": "platform_id",
    "device_id": "platform_id",
}
IDENTIFIER_TYPES: tuple[str, ...] = tuple(IDENTIFIER_CATEGORY)

# Identifiers meaningful only inside the issuing channel: their blind index is taken over
# "source|value", so the same account name on two marketplaces never links. Fixed here, not
# in policy, because changing it changes every stored blind index of these types.
SCOPED_BY_SOURCE: frozenset[str] = frozenset({"platform_user_id", "wechat_openid"})

PROFILE_CATEGORY: dict[str, str] = {
    "name": "identity",
    "gender": "identity",
    "birth_date": "demographic",
    "address": "address",
}
DECLARED_PROFILE: tuple[str, ...] = tuple(PROFILE_CATEGORY)


def identifier_category(id_type: str) -> str:
    """The data category of an identifier type; ``unknown`` (hidden by default) otherwise."""
    return IDENTIFIER_CATEGORY.get(id_type, "unknown")
