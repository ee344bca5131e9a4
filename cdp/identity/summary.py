"""A customer's matching evidence, stored on the customer row, encrypted under its data key.

Loading a candidate the long way means reading its identifiers, match keys and every source
record, decrypting each profile and normalising its name, birth date and address again: the
per-candidate cost of ingest, which grows with the database (more candidates per record).
The summary is what that load yields (``Features``: blind indexes and normal forms), stored
by the batch that wrote the customer, so the next batch reads one column and decrypts one
value instead.

It is a cache and never the truth:
- valid only for the ``updated_at`` it was written at, which is bound into its associated
  data: any change to the customer (merge, split, correction, erasure, a moved record) moves
  ``updated_at`` and the summary no longer decrypts; the model's ``onupdate`` also sets it to
  NULL on every UPDATE of the row that does not write it, so a stale one is not even kept;
- written only by code that knows the customer's whole evidence (``BatchWriter.flush``), and
  only if the row's ``updated_at`` is still the one the batch read (a steward's change, which
  takes no resolution lock, may commit in between);
- under the customer's own data key: erasure's crypto-shredding covers it;
- versioned: a summary of another ``FORMAT`` (normalisation changed) is ignored and the
  customer is loaded the long way, then written again.

Anything that fails (missing or destroyed key, failed authentication, other version) means
"load the long way"; never an error: the records are the truth.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cdp.crypto import fields
from cdp.errors import DecryptionError
from cdp.identity.matching import Features
from cdp.identity.normalize import NameInfo

# Bump when the normal forms or the features derived from a record change: summaries written
# by an older version are then ignored (and rewritten as customers are written again).
FORMAT = 1


def _aad(customer_id: str, updated_at: datetime, fmt: int | None = None) -> bytes:
    stamp = updated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    version = FORMAT if fmt is None else fmt
    return fields.field_aad("customers", "evidence_ct", customer_id) + f"|{stamp}|{version}".encode()


def encode(features: Features) -> bytes:
    """The plaintext of ``features`` (compact JSON, sorted, so equal features give equal
    bytes)."""
    return fields.json_bytes({
        "i": {t: sorted(v) for t, v in features.ids.items() if v},
        "n": [[n.text, n.kind, n.surname, n.given, n.gender, list(n.tokens)]
              for n in features.names],
        "d": sorted(features.dobs),
        "g": sorted(features.genders),
        "a": sorted(features.addresses),
        "p": sorted(features.phone_ps),
    })


def decode(plain: bytes) -> Features:
    d = json.loads(plain)
    return Features(
        {t: set(v) for t, v in d["i"].items()},
        [NameInfo(n[0], n[1], n[2], n[3], n[4], tuple(n[5])) for n in d["n"]],
        set(d["d"]), set(d["g"]), set(d["a"]), set(d["p"]),
    )


def seal(cipher: fields.FieldCipher, customer_id: str, updated_at: datetime,
         features: Features) -> bytes:
    """The stored summary of ``customer_id`` as of ``updated_at``."""
    return cipher.encrypt(encode(features), _aad(customer_id, updated_at))


def open_sealed(cipher: fields.FieldCipher, customer_id: str, updated_at: datetime,
                blob: bytes) -> Features | None:
    """The features in ``blob``, or None when it is not this customer's summary as of
    ``updated_at`` in this format (stale, moved from another row, tampered with)."""
    try:
        return decode(cipher.decrypt(blob, _aad(customer_id, updated_at)))
    except DecryptionError:
        return None


def sealed_format(cipher: fields.FieldCipher, customer_id: str, updated_at: datetime,
                  blob: bytes) -> int | None:
    """The format ``blob`` was sealed in (1 to ``FORMAT``) for this customer as of
    ``updated_at``, or None when it opens in none of them (moved, altered, corrupted).

    For ``cdp restore-check``: a summary of an older format is a cache waiting to be
    rewritten, not a value that failed to come back."""
    for fmt in range(FORMAT, 0, -1):
        try:
            cipher.decrypt(blob, _aad(customer_id, updated_at, fmt))
        except DecryptionError:
            continue
        return fmt
    return None
