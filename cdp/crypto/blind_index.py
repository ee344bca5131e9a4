"""Keyed blind indexes: HMAC-SHA256 of a normalised value, one derived key per kind.

Equal normalised values give equal indexes, so equality search and matching work without
plaintext; without the keyring an index reveals nothing and cannot be brute-forced offline.
"""

from __future__ import annotations

import hashlib
import hmac

from cdp.crypto.keyring import Keyring


def blind_index(keyring: Keyring, kind: str, normalised: str) -> str:
    """Hex HMAC-SHA256 of ``normalised`` under the index key of ``kind``."""
    return hmac.new(keyring.index_key(kind), normalised.encode("utf-8"), hashlib.sha256).hexdigest()


def keyed_pseudonym(key: bytes, value: str, length: int = 20) -> str:
    """A stable keyed pseudonym (HMAC) truncated to ``length`` hex characters."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:length]
