"""A write-once, read-once sequence of per-customer records kept on disk during a refresh,
encrypted under a key that lives only in this process.

The refresh computes each customer's own traits in one pass, but their scores, tiers and
segments are known only after the population-wide steps; holding every customer's traits
in memory until then made memory grow with the customers. Each record is sealed with
AES-GCM under a random key never written anywhere, in an unlinked temporary file: once the
process ends (or the spill is closed) nothing on disk can be read.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterator
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_LEN = struct.Struct(">I")
_AAD = b"cdp|crm|spill"


class Spill:
    """Append records (JSON-able values), then read them back once, in the same order."""

    def __init__(self) -> None:
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self._file = tempfile.TemporaryFile(prefix="cdp-crm-")  # noqa: SIM115 - closed in close()
        self._count = 0
        self._prefix = os.urandom(4)  # nonce = random prefix + record number: never repeats

    def __len__(self) -> int:
        return self._count

    def _nonce(self, i: int) -> bytes:
        return self._prefix + i.to_bytes(8, "big")

    def append(self, value: Any) -> None:
        sealed = self._aead.encrypt(self._nonce(self._count), orjson.dumps(value), _AAD)
        self._file.write(_LEN.pack(len(sealed)))
        self._file.write(sealed)
        self._count += 1

    def __iter__(self) -> Iterator[Any]:
        self._file.flush()
        self._file.seek(0)
        read = self._file.read
        for i in range(self._count):
            (n,) = _LEN.unpack(read(_LEN.size))
            yield orjson.loads(self._aead.decrypt(self._nonce(i), read(n), _AAD))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
