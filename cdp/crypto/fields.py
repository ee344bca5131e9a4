"""AES-256-GCM field encryption with associated data binding a value to its place.

A ciphertext is ``b"\\x01" + nonce(12) + ciphertext||tag``. The associated data names the
table, column and row (and the data key), so a ciphertext copied to another row or column
fails authentication instead of opening as someone else's data.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cdp.errors import DecryptionError

VERSION = b"\x01"
NONCE_LEN = 12


def field_aad(table: str, column: str, row_id: str) -> bytes:
    """Associated data for one stored value: where it lives."""
    return f"cdp|{table}|{column}|{row_id}".encode()


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_LEN)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if not blob or blob[:1] != VERSION or len(blob) < 1 + NONCE_LEN + 16:
        raise DecryptionError("ciphertext is malformed")
    try:
        return AESGCM(key).decrypt(blob[1 : 1 + NONCE_LEN], blob[1 + NONCE_LEN :], aad)
    except InvalidTag:
        raise DecryptionError("ciphertext failed authentication") from None


class FieldCipher:
    """``encrypt`` / ``decrypt`` under one data key, keyed once: for a caller that handles
    many values under the same key (an ingest batch writes several values per customer).
    Same format, a fresh random nonce per value, as the module's functions; AES-GCM's key
    setup is done once instead of once per value."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_LEN)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        if not blob or blob[:1] != VERSION or len(blob) < 1 + NONCE_LEN + 16:
            raise DecryptionError("ciphertext is malformed")
        try:
            return self._aead.decrypt(blob[1 : 1 + NONCE_LEN], blob[1 + NONCE_LEN :], aad)
        except InvalidTag:
            raise DecryptionError("ciphertext failed authentication") from None


def json_bytes(value: Any) -> bytes:
    """The plaintext ``encrypt_json`` encrypts: compact, sorted-key UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def encrypt_json(key: bytes, value: Any, aad: bytes) -> bytes:
    return encrypt(key, json_bytes(value), aad)


def decrypt_json(key: bytes, blob: bytes, aad: bytes) -> Any:
    return json.loads(decrypt(key, blob, aad).decode("utf-8"))
