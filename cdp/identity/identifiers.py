"""Blind-index kinds of identifiers and match keys, identifier lookup, and the matching
features a profile states: what ingest derives and the read path searches by, in one place."""

from __future__ import annotations

from typing import Any

from cdp.crypto.blind_index import blind_index
from cdp.crypto.keyring import Keyring
from cdp.identity import normalize as nz
from cdp.identity.matching import Features


def bidx_kind(id_type: str) -> str:
    """The blind-index key kind of identifiers of ``id_type``."""
    return f"id:{id_type}"


def match_kind(kind: str) -> str:
    """The blind-index key kind of match keys (weak evidence) of ``kind``."""
    return f"mk:{kind}"


def lookup_index(keyring: Keyring, id_type: str, value: str, source: str | None = None) -> str | None:
    """Blind index to search identifiers of ``id_type`` for ``value`` (exact after
    normalisation); None when the value is not searchable (masked, invalid, unknown type).
    ``source`` is needed for identifiers scoped by source (platform_user_id, wechat_openid)."""
    n = nz.normalize_identifier(id_type, value, source or "")
    if n.status not in (nz.VALID, nz.PLACEHOLDER) or n.norm is None:
        return None
    return blind_index(keyring, bidx_kind(id_type), n.norm)


def profile_features(profile: dict[str, Any]) -> Features:
    """What the declared profile fields say about the person, in normal form."""
    f = Features()
    name = profile.get("name")
    if isinstance(name, str):
        info = nz.normalize_name(name)
        if info is not None:
            f.names.append(info)
            if info.gender:
                f.genders.add(info.gender)
    gender = nz.normalize_gender(profile.get("gender"))
    if gender:
        f.genders.add(gender)
    dob = nz.normalize_birth_date(profile.get("birth_date"))
    if dob:
        f.dobs.add(dob)
    address = profile.get("address")
    if isinstance(address, str):
        addr = nz.normalize_address(address)
        if addr:
            f.addresses.add(addr)
    return f
