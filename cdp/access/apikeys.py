"""Create, authenticate and revoke API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.access.models import ApiKey
from cdp.db import utcnow
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


def authenticate(session: Session, presented: str) -> ApiKey:
    """The live key matching ``presented``; Unauthorized for unknown, malformed or revoked."""
    parts = presented.split("_", 2) if presented else []
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthorized("API key is malformed", code="invalid_api_key")
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if row is None or not hmac.compare_digest(row.key_hash, _hash(parts[2])):
        raise Unauthorized("API key is not recognised", code="invalid_api_key")
    if row.revoked_at is not None:
        raise Unauthorized("API key has been revoked", code="revoked_api_key")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row


def revoke_key(session: Session, prefix: str) -> ApiKey:
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None:
        raise NotFound("no API key with that prefix")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    session.flush()
    return row
