"""The evidence cache of an ingest run never answers with evidence another process changed.

``EvidenceCache`` keeps the features and data key of customers earlier batches loaded; an entry
counts only while the customer's ``updated_at`` is the one it was taken at. These tests change a
cached customer between two batches the way another process would (a DSR correction, a steward
merge, an erasure) and check the next batch decides on the current evidence, exactly as a
batch without a cache does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cdp.identity.evidence import EvidenceCache
from cdp.identity.models import Customer
from cdp.identity.prepare import prepare
from cdp.identity.records import validate_record
from cdp.identity.resolve import ingest_batch
from cdp.identity.rules import load_rules
from cdp.identity.stewardship import merge_customers
from cdp.rights.erasure import erase_customer
from cdp.rights.service import create_request, execute_request, verify_request
from tests.identity.identity_records import NAME_A, NID_A, NID_B, PHONE_A, rec


def _batch(platform: Any, cache: EvidenceCache | None, records: list[dict[str, Any]]) -> list[str]:
    rules = load_rules(platform.policies)
    prepared = [prepare(validate_record(r), platform.keyring, rules) for r in records]
    with platform.transaction() as s:
        results, _ = ingest_batch(s, platform, prepared, actor="test", rules=rules, cache=cache)
    return [r.customer_id for r in results]


def _correct_national_id(platform: Any, customer_id: str, old: str, new: str) -> None:
    with platform.transaction() as s:
        req = create_request(s, platform, customer_id, "correction", actor="officer")
        verify_request(s, req, actor="officer")
        execute_request(s, platform, req, actor="officer",
                        changes={"identifiers": [{"type": "national_id", "old": old, "value": new}]})


def test_cache_is_used_across_batches(platform) -> None:
    cache = EvidenceCache()
    [a] = _batch(platform, cache, [rec("app", "c1", [("phone", PHONE_A), ("national_id", NID_A)],
                                       name=NAME_A)])
    assert len(cache) == 1
    [b] = _batch(platform, cache, [rec("jd_health", "c2", [("national_id", NID_A)], name=NAME_A)])
    assert b == a
    assert cache.hits == 1  # the second batch took customer a from the cache


def test_correction_by_another_process_is_seen(platform) -> None:
    """Cached: national ID A. Corrected elsewhere to B. A record with the same phone and
    national ID A must now be kept apart (two valid IDs never make one person), as a batch
    without a cache decides; a stale entry would have linked it."""
    cache = EvidenceCache()
    [a] = _batch(platform, cache, [rec("app", "k1", [("phone", PHONE_A), ("national_id", NID_A)],
                                       name=NAME_A)])
    _correct_national_id(platform, a, NID_A, NID_B)
    [b] = _batch(platform, cache, [rec("call_center", "k2", [("phone", PHONE_A),
                                                             ("national_id", NID_A)])])
    assert b != a
    assert cache.hits == 0 and cache.misses >= 1


def test_merge_by_a_steward_is_seen(platform) -> None:
    """Cached: a holds only a phone. A steward elsewhere merges in b, which holds national ID
    B. A record with a's phone and national ID A must now stay apart from a."""
    cache = EvidenceCache()
    [a, b] = _batch(platform, cache, [
        rec("app", "m1", [("phone", PHONE_A)], name=NAME_A),
        rec("jd_health", "m2", [("national_id", NID_B)], name="李娜娜"),
    ])
    assert a != b
    with platform.transaction() as s:
        survivor = merge_customers(s, platform, a, b, "steward", "same person, checked")
    assert survivor == a
    [c] = _batch(platform, cache, [rec("pingan_health", "m3", [("phone", PHONE_A),
                                                               ("national_id", NID_A)],
                                       name=NAME_A)])
    assert c != a


def test_erasure_by_another_process_is_seen(platform) -> None:
    cache = EvidenceCache()
    [a] = _batch(platform, cache, [rec("app", "e1", [("phone", PHONE_A), ("national_id", NID_A)],
                                       name=NAME_A)])
    with platform.transaction() as s:
        erase_customer(s, platform, a, rx_keep=timedelta(days=5 * 365), actor="officer")
    [b] = _batch(platform, cache, [rec("app", "e2", [("national_id", NID_A)], name=NAME_A)])
    # A fresh customer with a fresh key: nothing of the erased one is reused.
    assert b != a
    with platform.transaction() as s:
        assert s.get(Customer, a).status == "erased"
        assert s.get(Customer, b).status == "active"


class _Abort(Exception):
    pass


def test_a_rolled_back_batch_leaves_nothing_trusted_in_the_cache(platform) -> None:
    """The cache is filled when a batch is flushed, before commit. Cached: a holds a phone.
    A batch adds national ID B to a, fills the cache, and rolls back. A record with a's
    phone and national ID A must still join a: had the rolled-back evidence been believed,
    two valid national IDs would have kept it apart."""
    cache = EvidenceCache()
    [a] = _batch(platform, cache, [rec("app", "r1", [("phone", PHONE_A)], name=NAME_A)])
    with pytest.raises(_Abort), platform.transaction() as s:
        rules = load_rules(platform.policies)
        p = prepare(validate_record(rec("jd_health", "r2", [("phone", PHONE_A), ("national_id", NID_B)],
                                        name=NAME_A)), platform.keyring, rules)
        [res], _ = ingest_batch(s, platform, [p], actor="test", rules=rules, cache=cache)
        assert res.customer_id == a
        raise _Abort
    [b] = _batch(platform, cache, [rec("pingan_health", "r3", [("phone", PHONE_A),
                                                               ("national_id", NID_A)],
                                       name=NAME_A)])
    assert b == a
    assert cache.misses >= 1  # a was reloaded: the rolled-back entry did not match
