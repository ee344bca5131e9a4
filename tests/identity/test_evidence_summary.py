"""The stored evidence summary (cdp.identity.summary) is used, and never believed when it is
outdated, moved or forged.

Each batch here runs without the in-process evidence cache, so a stored customer is loaded
either from its summary or from its records; ``BatchStats.from_records`` says which. A
summary that is used must say exactly what the records say.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from cdp.identity import summary
from cdp.identity.evidence import Evidence
from cdp.identity.matching import Features
from cdp.identity.models import Customer
from cdp.identity.prepare import prepare
from cdp.identity.records import validate_record
from cdp.identity.resolve import ingest_batch
from cdp.identity.rules import load_rules
from cdp.identity.stewardship import merge_customers, split_records
from cdp.identity.writer import BatchStats
from cdp.rights.erasure import erase_customer
from cdp.rights.service import create_request, execute_request, verify_request
from tests.identity.identity_records import ADDR_A, NAME_A, NID_A, NID_B, PHONE_A, PHONE_FAMILY, rec


def _batch(platform: Any, records: list[dict[str, Any]]) -> tuple[list[str], BatchStats]:
    rules = load_rules(platform.policies)
    prepared = [prepare(validate_record(r), platform.keyring, rules) for r in records]
    with platform.transaction() as s:
        results, stats = ingest_batch(s, platform, prepared, actor="test", rules=rules)
    return [r.customer_id for r in results], stats


def _row(platform: Any, cid: str) -> tuple[Any, bytes | None, str | None]:
    with platform.Session() as s:
        return s.execute(select(Customer.updated_at, Customer.evidence_ct, Customer.evidence_key_id)
                         .where(Customer.id == cid)).one()


def _comparable(f: Features) -> tuple[Any, ...]:
    return ({t: frozenset(v) for t, v in f.ids.items() if v}, frozenset(f.names),
            frozenset(f.dobs), frozenset(f.genders), frozenset(f.addresses), frozenset(f.phone_ps))


def _load(platform: Any, cids: list[str]) -> Evidence:
    with platform.Session() as s:
        ev = Evidence(s, platform, load_rules(platform.policies))
        ev._load_customers(sorted(cids))
        s.rollback()
    return ev


def test_a_written_customer_is_loaded_from_its_summary(platform) -> None:
    [a], _ = _batch(platform, [rec("app", "s1", [("phone", PHONE_A), ("national_id", NID_A)],
                                   name=NAME_A)])
    at, ct, kid = _row(platform, a)
    assert ct is not None and kid is not None
    [b], stats = _batch(platform, [rec("jd_health", "s2", [("national_id", NID_A)], name=NAME_A)])
    assert b == a
    assert stats.candidates == 1 and stats.from_records == 0


def test_the_summary_says_what_the_records_say(platform) -> None:
    """Customers built over several batches, with merges (a shared phone, then a national ID
    joining two customers) and an updated record: each stored summary decodes to exactly the
    features a load from the records gives."""
    ids1, _ = _batch(platform, [
        rec("app", "e1", [("phone", PHONE_A)], name=NAME_A, birth_date="1985-04-12"),
        rec("jd_health", "e2", [("national_id", NID_A)], name=NAME_A, address=ADDR_A),
        rec("ali_health", "e3", [("phone", PHONE_FAMILY)], name="王建国", gender="男"),
    ])
    ids2, _ = _batch(platform, [
        rec("pingan_health", "e4", [("phone", PHONE_A), ("national_id", NID_A)], name=NAME_A),
        rec("ali_health", "e3", [("phone", PHONE_FAMILY), ("national_id", NID_B)],
            name="王建国", address="上海市浦东新区张江路100号"),
    ])
    wang = ids2[1]
    # e3 changed in place: what the batch loaded for its customer still counted the old
    # content of e3, so it stores no summary; the next write of that customer does
    assert _row(platform, wang)[1] is None
    [again], stats = _batch(platform, [rec("call_center", "e5", [("phone", PHONE_FAMILY)], name="王建国")])
    assert again == wang and stats.from_records == 1
    cids = sorted(set(ids1) | set(ids2))
    with platform.Session() as s:
        active = [c for c, st in s.execute(select(Customer.id, Customer.status)
                                           .where(Customer.id.in_(cids))) if st == "active"]
    from_summary = _load(platform, active)
    assert from_summary.from_summary == len(active) and not from_summary.loaded_full
    # the same customers again, from their records: the summaries are made unusable
    with platform.transaction() as s:
        s.execute(update(Customer).where(Customer.id.in_(active)).values(evidence_ct=None))
    from_records = _load(platform, active)
    assert from_records.loaded_full == set(active)
    for cid in active:
        assert _comparable(from_summary.features[cid]) == _comparable(from_records.features[cid])


def test_any_other_update_of_the_customer_ends_its_summary(platform) -> None:
    [a], _ = _batch(platform, [rec("app", "u1", [("phone", PHONE_A)], name=NAME_A)])
    with platform.transaction() as s:
        s.get(Customer, a).status = "restricted"
    _, ct, kid = _row(platform, a)
    assert ct is None and kid is None


def test_correction_elsewhere_is_seen(platform) -> None:
    """Stored: national ID A. Corrected to B by a DSR. A record with the same phone and
    national ID A must now stay apart (two valid IDs never make one person)."""
    [a], _ = _batch(platform, [rec("app", "k1", [("phone", PHONE_A), ("national_id", NID_A)],
                                   name=NAME_A)])
    with platform.transaction() as s:
        req = create_request(s, platform, a, "correction", actor="officer")
        verify_request(s, req, actor="officer")
        execute_request(s, platform, req, actor="officer", changes={
            "identifiers": [{"type": "national_id", "old": NID_A, "value": NID_B}]})
    assert _row(platform, a)[1] is None
    [b], stats = _batch(platform, [rec("call_center", "k2", [("phone", PHONE_A),
                                                             ("national_id", NID_A)])])
    assert b != a
    assert stats.from_records == 1


def test_steward_merge_and_split_are_seen(platform) -> None:
    [a, b], _ = _batch(platform, [
        rec("app", "m1", [("phone", PHONE_A)], name=NAME_A),
        rec("jd_health", "m2", [("national_id", NID_B)], name="李娜娜"),
    ])
    with platform.transaction() as s:
        merge_customers(s, platform, a, b, "steward", "same person, checked")
    assert _row(platform, a)[1] is None
    [c], stats = _batch(platform, [rec("pingan_health", "m3", [("phone", PHONE_A),
                                                               ("national_id", NID_A)], name=NAME_A)])
    assert c != a  # a holds national ID B now
    assert stats.from_records >= 1
    with platform.transaction() as s:
        new = split_records(s, platform, a, ["m2"], "steward", "two people after all")
    assert _row(platform, a)[1] is None
    [d], _ = _batch(platform, [rec("pingan_health", "m4", [("phone", PHONE_A), ("national_id", NID_A)],
                                   name=NAME_A)])
    assert d in (a, c) and d != new  # with B split off, a no longer conflicts


def test_erasure_ends_the_summary(platform) -> None:
    [a], _ = _batch(platform, [rec("app", "x1", [("phone", PHONE_A), ("national_id", NID_A)],
                                   name=NAME_A)])
    with platform.transaction() as s:
        erase_customer(s, platform, a, rx_keep=timedelta(days=5 * 365), actor="officer")
    _, ct, kid = _row(platform, a)
    assert ct is None and kid is None
    [b], _ = _batch(platform, [rec("app", "x2", [("national_id", NID_A)], name=NAME_A)])
    assert b != a


def test_an_old_customer_gets_its_summary_when_loaded(platform) -> None:
    """A customer stored before summaries existed (or whose summary ended) is loaded from its
    records once, gets a summary as of its unchanged updated_at, and is loaded from that
    next time."""
    [a], _ = _batch(platform, [rec("app", "o1", [("phone", PHONE_A), ("national_id", NID_A)],
                                   name=NAME_A)])
    with platform.transaction() as s:
        s.execute(update(Customer).where(Customer.id == a).values(evidence_ct=None))
    at = _row(platform, a)[0]
    # a candidate (same phone) that is kept apart from a (another valid national ID)
    [b], stats = _batch(platform, [rec("jd_health", "o2", [("phone", PHONE_A), ("national_id", NID_B)],
                                       name=NAME_A)])
    assert b != a and stats.from_records == 1
    at2, ct, _ = _row(platform, a)
    assert at2 == at and ct is not None  # filled, and updated_at left alone
    [c], stats = _batch(platform, [rec("ali_health", "o3", [("phone", PHONE_A), ("national_id", NID_A)],
                                       name=NAME_A)])
    assert c == a
    assert stats.candidates == 2 and stats.from_records == 0


def test_a_change_committed_while_a_batch_runs_ends_the_summary(platform, monkeypatch) -> None:
    """Stewards, corrections and erasures do not take the resolution lock: one may commit
    between a batch's load and its write. What the batch loaded is then not the customer's
    whole evidence, and the summary it would store must not be kept."""
    if not platform.config.database_url.startswith("postgresql"):
        pytest.skip("a second writer during a batch: PostgreSQL (SQLite holds its write lock)")
    [a], _ = _batch(platform, [rec("app", "c1", [("phone", PHONE_A)], name=NAME_A)])
    load = Evidence._load_customers

    def load_then_change(self: Evidence, ids: list[str]) -> None:
        load(self, ids)
        with platform.transaction() as other:  # another process, committed meanwhile
            other.get(Customer, a).status = "restricted"

    monkeypatch.setattr(Evidence, "_load_customers", load_then_change)
    [b], _ = _batch(platform, [rec("jd_health", "c2", [("phone", PHONE_A)], name=NAME_A)])
    assert b == a
    _, ct, kid = _row(platform, a)
    assert ct is None and kid is None


# -- from the attacker's side: a summary that is not this customer's, now, is never believed --


def test_a_summary_copied_onto_another_customer_is_not_believed(platform) -> None:
    """b's row gets a's summary (which holds national ID A). Were it believed, b would look
    like a holder of national ID A and a record with b's phone and national ID B would be
    kept apart from b."""
    [a, b], _ = _batch(platform, [
        rec("app", "w1", [("phone", PHONE_A), ("national_id", NID_A)], name=NAME_A),
        rec("app", "w2", [("phone", PHONE_FAMILY)], name="王建国"),
    ])
    _, act, akid = _row(platform, a)
    with platform.transaction() as s:
        b_at = s.get(Customer, b).updated_at
        s.execute(update(Customer).where(Customer.id == b)
                  .values(evidence_ct=act, evidence_key_id=akid, updated_at=b_at))
    [c], stats = _batch(platform, [rec("jd_health", "w3", [("phone", PHONE_FAMILY), ("national_id", NID_B)],
                                       name="王建国")])
    assert c == b
    assert stats.from_records == 1


@pytest.mark.parametrize("forge", ["flipped byte", "older summary", "other format"])
def test_a_tampered_or_outdated_summary_is_not_believed(platform, monkeypatch, forge) -> None:
    [a], _ = _batch(platform, [rec("app", "t1", [("phone", PHONE_A)], name=NAME_A)])
    old_at, old_ct, old_kid = _row(platform, a)
    [_], _ = _batch(platform, [rec("jd_health", "t2", [("phone", PHONE_A), ("national_id", NID_A)],
                                   name=NAME_A)])
    at, ct, kid = _row(platform, a)
    assert ct is not None and at != old_at
    if forge == "flipped byte":
        bad = bytearray(ct)
        bad[-1] ^= 1
        new_ct, new_kid = bytes(bad), kid
    elif forge == "older summary":  # replayed: it lacks national ID A
        new_ct, new_kid = old_ct, old_kid
    else:
        monkeypatch.setattr(summary, "FORMAT", summary.FORMAT + 1)
        new_ct, new_kid = ct, kid
    with platform.transaction() as s:
        s.execute(update(Customer).where(Customer.id == a)
                  .values(evidence_ct=new_ct, evidence_key_id=new_kid, updated_at=at))
    # national ID B with a's phone: a holds A, so they must stay apart
    [b], stats = _batch(platform, [rec("pingan_health", "t3", [("phone", PHONE_A), ("national_id", NID_B)],
                                       name=NAME_A)])
    assert b != a
    assert stats.from_records == 1


def test_restore_check_opens_summaries_and_tells_an_older_format_from_a_failure(
    platform, monkeypatch
) -> None:
    """After an upgrade that bumps ``summary.FORMAT`` every stored summary is of the older
    format: ``cdp restore-check`` must still pass (they are a cache that ingest rewrites) and
    say how many there are; a summary that opens in no format is a failure."""
    from cdp.ops.restore_check import check_every_value

    cids, _ = _batch(platform, [
        rec("app", "r1", [("phone", PHONE_A)], name=NAME_A),
        rec("app", "r2", [("phone", PHONE_FAMILY)], name="王建国"),
    ])
    with platform.Session() as s:
        report = check_every_value(s, platform.keys)
    assert report.ok and report.opened["customers.evidence_ct"] == 2
    assert report.older_summaries == 0

    monkeypatch.setattr(summary, "FORMAT", summary.FORMAT + 1)
    with platform.Session() as s:
        report = check_every_value(s, platform.keys)
    assert report.ok, report.summary()
    assert report.older_summaries == 2 and not report.opened["customers.evidence_ct"]
    assert "2 evidence summaries of an older format" in report.summary()

    at, ct, kid = _row(platform, cids[0])
    assert ct is not None
    bad = bytearray(ct)
    bad[-1] ^= 1
    with platform.transaction() as s:
        s.execute(update(Customer).where(Customer.id == cids[0])
                  .values(evidence_ct=bytes(bad), evidence_key_id=kid, updated_at=at))
    with platform.Session() as s:
        report = check_every_value(s, platform.keys)
    assert not report.ok and report.failed["customers.evidence_ct"] == 1
    assert report.older_summaries == 1
