"""After a restore: does every stored ciphertext open with the keyring at hand?

A database restored without its keyring (or with the wrong one) looks complete and serves
nothing: every personal value is AES-GCM ciphertext under a data key wrapped by the keyring's
key-encryption keys. This walks every encrypted column of every table that names its data key
and tries to open each value with the associated data it was sealed with (table, column, row
id), so a restore drill proves the data, not only the schema, came back. The customers'
evidence summaries are opened the same way, with their own associated data
(cdp.identity.summary).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from cdp.crypto import fields
from cdp.crypto.keys import KeyService
from cdp.errors import CdpError
from cdp.identity import summary
from cdp.identity.models import Customer
from cdp.models import metadata

BATCH = 2_000


@dataclass
class DecryptReport:
    opened: Counter[str] = field(default_factory=Counter)  # "table.column" -> values opened
    failed: Counter[str] = field(default_factory=Counter)
    shredded: int = 0  # values whose data key was destroyed on purpose (erasure)
    # evidence summaries sealed in an older summary.FORMAT: they open, ingest ignores them and
    # writes them again; not a failure, but said (a restore drill just after an upgrade)
    older_summaries: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        total = sum(self.opened.values())
        older = (f"; {self.older_summaries} evidence summaries of an older format,"
                 " rewritten as ingest meets them" if self.older_summaries else "")
        if self.ok:
            return (f"every value decrypts: {total} values in {len(self.opened)} columns"
                    f" ({self.shredded} crypto-shredded, as erased){older}")
        bad = ", ".join(f"{k} {v}" for k, v in sorted(self.failed.items()))
        return f"DECRYPTION FAILED for {sum(self.failed.values())} values ({bad}); {total} opened"


def _encrypted_tables() -> list[tuple[Table, list[str]]]:
    out = []
    for table in metadata.sorted_tables:
        cols = [c.name for c in table.columns if c.name.endswith("_ct")]
        if cols and "data_key_id" in table.c and "id" in table.c:
            out.append((table, cols))
    return out


def check_every_value(session: Session, keys: KeyService) -> DecryptReport:
    """Try to open every encrypted value; never raises for a value that fails: counts it.

    A data key whose wrapped key is gone (crypto-shredded by an erasure) is expected not to
    open and is counted apart. Reads only; holds no plaintext beyond one value at a time.
    """
    report = DecryptReport()
    for table, cols in _encrypted_tables():
        stmt = select(table.c.id, table.c.data_key_id, *(table.c[c] for c in cols)).order_by(
            table.c.id
        )
        rows = session.execute(stmt.execution_options(yield_per=BATCH)).partitions(BATCH)
        for batch in rows:
            deks = _unwrap_each(session, keys, {r.data_key_id for r in batch})
            for r in batch:
                dek = deks.get(r.data_key_id)
                for c in cols:
                    blob = getattr(r, c)
                    if blob is None:
                        continue
                    name = f"{table.name}.{c}"
                    if dek is None:
                        _no_key(session, report, name, r.data_key_id)
                        continue
                    try:
                        fields.decrypt(dek, blob, fields.field_aad(table.name, c, r.id))
                        report.opened[name] += 1
                    except CdpError:
                        report.failed[name] += 1
    _check_summaries(session, keys, report)
    return report


def _check_summaries(session: Session, keys: KeyService, report: DecryptReport) -> None:
    name = "customers.evidence_ct"
    stmt = (select(Customer.id, Customer.updated_at, Customer.evidence_key_id, Customer.evidence_ct)
            .where(Customer.evidence_ct.is_not(None)).order_by(Customer.id))
    for batch in session.execute(stmt.execution_options(yield_per=BATCH)).partitions(BATCH):
        deks = _unwrap_each(session, keys, {r.evidence_key_id for r in batch})
        for r in batch:
            dek = deks.get(r.evidence_key_id)
            if dek is None:
                _no_key(session, report, name, r.evidence_key_id)
                continue
            fmt = summary.sealed_format(fields.FieldCipher(dek), r.id, r.updated_at,
                                        r.evidence_ct)
            if fmt == summary.FORMAT:
                report.opened[name] += 1
            elif fmt is None:
                report.failed[name] += 1
            else:
                report.older_summaries += 1


def _no_key(session: Session, report: DecryptReport, name: str, key_id: str) -> None:
    """Count a value whose data key did not unwrap: shredded on purpose, or a failure."""
    if _shredded(session, key_id):
        report.shredded += 1
    else:
        report.failed[name] += 1


def _unwrap_each(session: Session, keys: KeyService, key_ids: set[str]) -> dict[str, bytes]:
    """The data keys that unwrap (all in one query when they do, one by one when not)."""
    try:
        return keys.load(session, key_ids)
    except (CdpError, KeyError):
        pass
    out = {}
    for kid in key_ids:
        try:
            out[kid] = keys.dek(session, kid)
        except (CdpError, KeyError):
            continue
    return out


def _shredded(session: Session, key_id: str) -> bool:
    from cdp.crypto.models import DataKey

    row = session.get(DataKey, key_id)
    return row is not None and row.wrapped is None
