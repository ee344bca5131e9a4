"""The run manifest: what a run wrote, with a SHA-256 per file, signed with Ed25519.

``manifest.json`` is ``{"manifest": {...}, "signature": b64, "public_key": b64,
"algorithm": "Ed25519"}``; the signature covers the canonical JSON of ``manifest``
(sorted keys, no spaces, UTF-8), so a recipient can check it with any Ed25519 library.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cdp.exports.writers import sha256_file

MANIFEST_NAME = "manifest.json"


def canonical(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sign(manifest: dict[str, Any], key: Ed25519PrivateKey, public_key: bytes) -> dict[str, Any]:
    return {
        "manifest": manifest,
        "algorithm": "Ed25519",
        "public_key": base64.b64encode(public_key).decode(),
        "signature": base64.b64encode(key.sign(canonical(manifest))).decode(),
    }


def verify(document: dict[str, Any], public_key: bytes, directory: Path | None = None) -> bool:
    """True when the signature holds under ``public_key`` (not the one in the document) and,
    with ``directory``, every listed file still has its recorded SHA-256."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            base64.b64decode(document["signature"]), canonical(document["manifest"])
        )
    except (InvalidSignature, KeyError, ValueError):
        return False
    if directory is not None:
        for f in document["manifest"].get("files", []):
            p = directory / f["name"]
            if not p.is_file() or sha256_file(p) != f["sha256"]:
                return False
    return True


def write(directory: Path, document: dict[str, Any]) -> Path:
    path = directory / MANIFEST_NAME
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
    return path
