"""Data keys: create, unwrap (cached), rotate the wrapping key, crypto-shred."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cdp.crypto import fields
from cdp.crypto.keyring import Keyring
from cdp.crypto.models import DataKey
from cdp.db import new_id, utcnow
from cdp.errors import DecryptionError


def _wrap_aad(key_id: str) -> bytes:
    return fields.field_aad("data_keys", "wrapped", key_id)


# True inside KeyService.uncached(): keys unwrapped or created there are not added to the cache.
_UNCACHED: ContextVar[bool] = ContextVar("cdp_keys_uncached", default=False)


class KeyService:
    """Wraps and unwraps per-customer data keys with the keyring's key-encryption keys.

    Unwrapped keys are cached by their wrapped bytes: a destroyed key has no wrapped bytes,
    so a cache entry can never outlive crypto-shredding once the row is re-read.
    """

    def __init__(self, keyring: Keyring, cache_size: int = 50_000):
        self.keyring = keyring
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # -- creation -------------------------------------------------------------------------
    def new_key(self, customer_id: str) -> tuple[DataKey, bytes]:
        """A fresh data key for ``customer_id`` (not yet added to a session)."""
        dek = os.urandom(32)
        row = DataKey(id=new_id(), customer_id=customer_id)
        row.kek_version = self.keyring.wrapping_version()
        row.wrapped = fields.encrypt(self.keyring.kek(row.kek_version), dek, _wrap_aad(row.id))
        self._remember(row.wrapped, dek)
        return row, dek

    def new_key_values(self, customer_id: str) -> tuple[dict[str, Any], bytes]:
        """``new_key`` as the new row's column values (``id``, ``customer_id``,
        ``kek_version``, ``wrapped``) instead of an ORM object: for a caller inserting many
        new keys in bulk (ingest), which has no use for the object."""
        dek = os.urandom(32)
        key_id = new_id()
        version = self.keyring.wrapping_version()
        wrapped = fields.encrypt(self.keyring.kek(version), dek, _wrap_aad(key_id))
        self._remember(wrapped, dek)
        return ({"id": key_id, "customer_id": customer_id, "kek_version": version,
                 "wrapped": wrapped}, dek)

    def create(self, session: Session, customer_id: str) -> tuple[DataKey, bytes]:
        row, dek = self.new_key(customer_id)
        session.add(row)
        return row, dek

    # -- use ------------------------------------------------------------------------------
    def unwrap(self, row: DataKey) -> bytes:
        """The plaintext data key of ``row``; DecryptionError if it was destroyed."""
        if row.wrapped is None:
            raise DecryptionError("data key has been destroyed")
        with self._lock:
            dek = self._cache.get(row.wrapped)
            if dek is not None:
                self._cache.move_to_end(row.wrapped)
                return dek
        dek = fields.decrypt(self.keyring.kek(row.kek_version), row.wrapped, _wrap_aad(row.id))
        self._remember(row.wrapped, dek)
        return dek

    @staticmethod
    @contextmanager
    def uncached() -> Iterator[None]:
        """Keys unwrapped or created in this block are not added to the cache (cached ones
        are still used): for bulk reads that unwrap every customer's key once (exports), which
        would otherwise fill the cache up to its cap with keys never asked for again (memory
        growing with the rows read, ingest's and the read API's keys evicted), and for bulk
        ingest, which keeps the keys it works with itself. Do not yield out of it."""
        token = _UNCACHED.set(True)
        try:
            yield
        finally:
            _UNCACHED.reset(token)

    def load(self, session: Session, key_ids: Iterable[str]) -> dict[str, bytes]:
        """Unwrap several keys with one query; destroyed keys are left out."""
        ids = list(set(key_ids))
        out: dict[str, bytes] = {}
        for start in range(0, len(ids), 500):
            rows = session.scalars(select(DataKey).where(DataKey.id.in_(ids[start : start + 500])))
            for row in rows:
                if row.wrapped is not None:
                    out[row.id] = self.unwrap(row)
        return out

    def dek(self, session: Session, key_id: str) -> bytes:
        row = session.get(DataKey, key_id)
        if row is None:
            raise DecryptionError("data key not found")
        return self.unwrap(row)

    def _remember(self, wrapped: bytes, dek: bytes) -> None:
        if _UNCACHED.get():
            return
        with self._lock:
            self._cache[wrapped] = dek
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    # -- lifecycle ------------------------------------------------------------------------
    def shred(self, session: Session, customer_id: str) -> int:
        """Destroy every data key owned by ``customer_id``. Their ciphertexts become noise."""
        rows = list(session.scalars(select(DataKey).where(DataKey.customer_id == customer_id)))
        for row in rows:
            if row.wrapped is not None:
                with self._lock:
                    self._cache.pop(row.wrapped, None)
                row.wrapped = None
                row.destroyed_at = utcnow()
        session.flush()
        return len(rows)

    def rewrap_batch(self, session: Session, batch_size: int = 1000) -> int:
        """Rewrap up to ``batch_size`` keys not yet under the current KEK. Returns how many.

        Only the small wrapped keys change; no field ciphertext is touched, so rotation runs
        online in short transactions while ingest goes on.
        """
        current = self.keyring.wrapping_version()
        rows = list(
            session.scalars(
                select(DataKey)
                .where(DataKey.kek_version != current, DataKey.wrapped.is_not(None))
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            dek = self.unwrap(row)
            row.wrapped = fields.encrypt(self.keyring.kek(current), dek, _wrap_aad(row.id))
            row.kek_version = current
            self._remember(row.wrapped, dek)
        session.flush()
        return len(rows)

