"""A bulk ingest's memory stays flat: what it keeps across batches is bounded by its own
caches, not by the process-wide ones sized for the read path.

Bulk ingest creates a data key per new customer and reloads stored customers' evidence
(decrypted names, birth dates, addresses) batch after batch; neither the key cache nor the
normalisers' memo may fill up with them, or the ingesting process grows until those caches'
caps, keeping plaintext long after the batch that needed it.
"""

from __future__ import annotations

from typing import Any

from cdp.identity import normalize as nz
from cdp.identity.evidence import Evidence
from cdp.identity.pipeline import ingest_records
from cdp.identity.records import validate_record
from cdp.identity.rules import load_rules
from tests.identity.identity_records import NAME_A, NID_A, PHONE_A, rec


def _normaliser_entries() -> int:
    return sum(f.cache_info().currsize for f in vars(nz).values() if hasattr(f, "cache_info"))


def _records(n: int) -> list[tuple[int, Any]]:
    return [(i, validate_record(rec("app", f"m{i}", [("phone", f"139{i:08d}")],
                                    name=f"王{chr(0x4E00 + i)}明", address=f"北京市朝阳区建国路{i}号")))
            for i in range(n)]


def test_bulk_ingest_leaves_the_process_key_cache_alone(platform) -> None:
    keys = platform.keys
    before = len(keys._cache)
    summary = ingest_records(platform, _records(30), actor="test", batch_size=10)
    assert summary.new_customers == 30
    # every new customer's key was created (and the evidence of later batches unwrapped
    # keys), none of them went into the process-wide cache
    assert len(keys._cache) == before
    # the keys still work: a later read unwraps them as usual
    with platform.transaction() as s:
        from sqlalchemy import select

        from cdp.crypto.models import DataKey
        row = s.execute(select(DataKey).limit(1)).scalar_one()
        assert len(keys.unwrap(row)) == 32


def test_reloading_stored_evidence_does_not_fill_the_normaliser_caches(platform) -> None:
    ingest_records(platform, [(1, validate_record(rec("app", "e1", [("phone", PHONE_A),
                                                                     ("national_id", NID_A)],
                                                      name=NAME_A, address="上海市徐汇区漕溪北路1号")))],
                   actor="test")
    from sqlalchemy import select

    from cdp.identity.models import Customer
    for f in vars(nz).values():
        if hasattr(f, "cache_clear"):
            f.cache_clear()
    with platform.transaction() as s:
        [cid] = s.execute(select(Customer.id)).scalars().all()
        ev = Evidence(s, platform, load_rules(platform.policies))
        ev._load_customers([cid])
    feats = ev.features[cid]
    # the stored customer's evidence was read and normalised...
    assert feats.names and feats.names[0].text == NAME_A
    assert feats.addresses and feats.dobs
    # ...without leaving its plaintext normal forms in the process-wide caches
    assert _normaliser_entries() == 0
