"""Delivering an access package: stored encrypted, downloadable once, by its token.

Executing an access request no longer hands the package to whoever executed it. The
package is encrypted (AES-256-GCM) under a key derived (HKDF-SHA256) from a random one-time
token; only the ciphertext and the token's SHA-256 are stored, on the request. The token is
returned once, to be passed to the data subject; ``POST /v1/dsr/{id}/package`` with it
returns the package (JSON or CSV) once, within the expiry, and deletes the ciphertext.
Whoever downloads first consumes it: a subject who finds it already taken knows someone
else did, and the download is audited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cdp.crypto import fields
from cdp.db import utcnow
from cdp.errors import NotFound
from cdp.rights.models import DsrRequest

RESULT_KEY = "delivery"


def _key(token: str, dsr_id: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=dsr_id.encode(), info=b"cdp dsr access package"
    ).derive(token.encode())


def _aad(dsr_id: str) -> bytes:
    return fields.field_aad("dsr_requests", "result.delivery", dsr_id)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def seal_package(req: DsrRequest, package: dict[str, Any], expires_at: datetime) -> str:
    """Store ``package`` on ``req`` encrypted under a new one-time token; returns the token
    (never stored)."""
    token = secrets.token_urlsafe(32)
    plaintext = json.dumps(package, ensure_ascii=False, separators=(",", ":")).encode()
    blob = fields.encrypt(_key(token, req.id), plaintext, _aad(req.id))
    req.result = {
        **(req.result or {}),
        RESULT_KEY: {
            "ciphertext": base64.b64encode(blob).decode(),
            "token_sha256": _token_hash(token),
            "expires_at": expires_at.isoformat(),
            "downloaded_at": None,
        },
    }
    return token


def open_package(req: DsrRequest, token: str) -> dict[str, Any]:
    """The package of ``req`` for ``token``, deleted from storage by the same call (the
    caller commits). NotFound, the same for every reason (wrong token, already downloaded,
    expired, none), so a guesser learns nothing."""
    sealed = (req.result or {}).get(RESULT_KEY) or {}
    blob = sealed.get("ciphertext")
    if (
        not isinstance(token, str)
        or not 20 <= len(token) <= 128
        or not blob
        or not hmac.compare_digest(sealed.get("token_sha256", ""), _token_hash(token))
        or datetime.fromisoformat(sealed["expires_at"]) <= utcnow()
    ):
        raise NotFound("no package to download with that token", code="package_not_available")
    package: dict[str, Any] = json.loads(
        fields.decrypt(_key(token, req.id), base64.b64decode(blob), _aad(req.id))
    )
    req.result = {
        **req.result,
        RESULT_KEY: {
            "expires_at": sealed["expires_at"],
            "downloaded_at": utcnow().isoformat(),
        },
    }
    return package


def public_state(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a listing may show of a delivery: when it expires, whether it was downloaded."""
    sealed = (result or {}).get(RESULT_KEY)
    if not sealed:
        return None
    return {"expires_at": sealed.get("expires_at"), "downloaded_at": sealed.get("downloaded_at")}
