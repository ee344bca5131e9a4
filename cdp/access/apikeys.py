"""Create, authenticate and revoke API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from cdp.access.models import ApiKey
from cdp.db import utcnow
from cdp.db.driver_sql import DriverStatement
from cdp.errors import NotFound, Unauthorized

KEY_PREFIX = "cdp"
# last_used_at is written at most this often per key, so reads do not each cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(secret: str) -> str:
    # The secret has 256 bits of entropy: a plain SHA-256 is the right tool (no stretching
    # needed, and the check stays constant-cost on every request).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, role: str, name: str | None = None) -> tuple[ApiKey, str]:
    """Create a key for ``role``. Returns the row and the full key, which is never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(prefix=prefix, key_hash=_hash(secret), role=role, name=name or f"{role}-{prefix}")
    session.add(row)
    session.flush()
    return row, f"{KEY_PREFIX}_{prefix}_{secret}"


@dataclass(frozen=True)
class KeyIdentity:
    """What a request needs of its authenticated key (no secret, no hash)."""

    id: int
    prefix: str
    role: str


# Successful authentications (the secret matched its hash) are remembered per process for
# this long. Revocation does not wait for it: every request of a remembered key still reads
# the key's revocation time (one indexed single-column read), so a key revoked by any
# process (`cdp keys revoke`, another worker, another host) is refused on its next request.
AUTH_CACHE_SECONDS = 600.0
_AUTH_CACHE_MAX = 10_000
# (prefix, hash of the presented secret, database) -> (monotonic expiry, identity). Only
# successes are cached: an unknown or revoked key is checked against the database every time.
_auth_cache: dict[tuple[str, str, str], tuple[float, KeyIdentity]] = {}


# The revocation check of a remembered key, run on every authenticated request: on the
# driver's cursor (cdp.db.driver_sql), as the ORM's execution layer cost several times the
# driver's own work for this one-column read.
_REVOKED_AT = DriverStatement(
    select(ApiKey.__table__.c.revoked_at).where(ApiKey.__table__.c.id == bindparam("id"))
)


def forget_cached(prefix: str | None = None) -> None:
    """Drop cached authentications (of one key prefix, or all)."""
    if prefix is None:
        _auth_cache.clear()
        return
    for k in [k for k in list(_auth_cache) if k[0] == prefix]:
        _auth_cache.pop(k, None)


def recently_valid(presented: str, database: str) -> bool:
    """Whether this process authenticated ``presented`` within ``AUTH_CACHE_SECONDS``
    (no database read; says nothing about revocation since)."""
    parts = presented.split("_", 2) if presented else []
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return False
    hit = _auth_cache.get((parts[1], _hash(parts[2]), database))
    return hit is not None and hit[0] > time.monotonic()


def authenticate(session: Session, presented: str) -> KeyIdentity:
    """The live key matching ``presented``; Unauthorized for unknown, malformed or revoked.

    A key seen valid within the last ``AUTH_CACHE_SECONDS`` is not hashed against its row
    again, but its revocation is checked on every call: revoking is immediate everywhere.
    """
    parts = presented.split("_", 2) if presented else []
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthorized("API key is malformed", code="invalid_api_key")
    digest = _hash(parts[2])
    cache_key = (parts[1], digest, str(session.get_bind().engine.url))
    hit = _auth_cache.get(cache_key)
    now_mono = time.monotonic()
    if hit is not None and hit[0] > now_mono:
        if session.autoflush:
            session.flush()  # as session.execute would: a revocation pending in it counts
        live = _REVOKED_AT.rows(session.connection(), {"id": hit[1].id})
        if not live or live[0].revoked_at is not None:
            _auth_cache.pop(cache_key, None)
            raise Unauthorized("API key has been revoked", code="revoked_api_key")
        return hit[1]
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise Unauthorized("API key is not recognised", code="invalid_api_key")
    if row.revoked_at is not None:
        _auth_cache.pop(cache_key, None)
        raise Unauthorized("API key has been revoked", code="revoked_api_key")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    identity = KeyIdentity(id=row.id, prefix=row.prefix, role=row.role)
    if len(_auth_cache) >= _AUTH_CACHE_MAX:
        _auth_cache.clear()
    _auth_cache[cache_key] = (now_mono + AUTH_CACHE_SECONDS, identity)
    return identity


def revoke_key(session: Session, prefix: str) -> ApiKey:
    """Revoke the key ``prefix`` (flushes); refused everywhere from the commit on."""
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None:
        raise NotFound("no API key with that prefix")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    session.flush()
    # Every process checks revocation per request; this one also forgets the key at once.
    forget_cached(prefix)
    return row
