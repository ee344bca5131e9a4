"""Error types that cross module edges. Messages never carry personal data."""

from __future__ import annotations


class CdpError(Exception):
    """Base for errors the platform raises on purpose."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status


class ValidationError(CdpError):
    status = 422
    code = "invalid"


class NotFound(CdpError):
    status = 404
    code = "not_found"


class Unauthorized(CdpError):
    status = 401
    code = "unauthorized"


class Forbidden(CdpError):
    status = 403
    code = "forbidden"


class Conflict(CdpError):
    status = 409
    code = "conflict"


class KeyringError(CdpError):
    status = 500
    code = "keyring"


class DecryptionError(CdpError):
    """A ciphertext failed authentication or its key is gone (e.g. crypto-shredded)."""

    status = 410
    code = "undecryptable"
