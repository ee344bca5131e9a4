"""Data-steward merge and split: lineage, keys, refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cdp.audit.models import AuditEvent
from cdp.crypto.models import DataKey
from cdp.errors import Conflict, NotFound, ValidationError
from cdp.identity.models import Customer, IdentityLink, LineageEvent, SourceRecord
from cdp.identity.pipeline import ingest_records
from cdp.identity.records import validate_record
from cdp.identity.stewardship import merge_customers, split_records
from cdp.identity.view import assemble_customer
from tests.identity.identity_records import ADDR_A, NAME_A, NID_A, NID_B, PHONE_A, rec


def _ingest(platform, records) -> dict[str, str]:  # type: ignore[no-untyped-def]
    ingest_records(platform, [(n, validate_record(r)) for n, r in enumerate(records, 1)], actor="t")
    with platform.transaction() as s:
        return dict(list(s.execute(select(SourceRecord.source_record_id, SourceRecord.customer_id)).tuples()))


def test_merge_then_split_with_lineage(platform) -> None:
    got = _ingest(platform, [
        rec("jd_health", "a", [("phone", PHONE_A)], name=NAME_A, address=ADDR_A),
        rec("app", "b", [("member_id", "M9")], name="刘洋"),
    ])
    a, b = got["a"], got["b"]
    assert a != b
    with platform.transaction() as s:
        assert merge_customers(s, platform, a, b, "steward:alice", "same person, checked by phone") == a
    with platform.transaction() as s:
        assert s.get(Customer, b).status == "merged" and s.get(Customer, b).merged_into == a
        view = assemble_customer(s, platform, a)
        assert {i["source_record_id"] for i in view["identities"]} == {"a", "b"}
        assert {x["value"] for x in view["profile"]["name"]["values"]} == {NAME_A, "刘洋"}
        assert {lk["rule"] for lk in view["links"]} == {"new", "merge:steward"}
        rec_b = s.scalars(select(SourceRecord).where(SourceRecord.source_record_id == "b")).one()
        new = split_records(s, platform, a, [rec_b.id], "steward:alice", "wrongly merged")
    with platform.transaction() as s:
        assert assemble_customer(s, platform, new)["profile"]["name"]["value"] == "刘洋"
        assert {i["source_record_id"] for i in assemble_customer(s, platform, a)["identities"]} == {"a"}
        history = list(s.scalars(select(IdentityLink).where(IdentityLink.record_id == rec_b.id)
                                 .order_by(IdentityLink.id)))
        assert [h.customer_id for h in history] == [b, a, new]
        assert [h.ended_at is None for h in history] == [False, False, True]
        kinds = [e.kind for e in s.scalars(select(LineageEvent).order_by(LineageEvent.id))]
        assert kinds[-2:] == ["merged", "split"]
        split_ev = s.scalars(select(LineageEvent).where(LineageEvent.kind == "split")).one()
        assert split_ev.reason == "wrongly merged" and split_ev.actor == "steward:alice"
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions.count("identity.merge") == 2 and actions.count("identity.split") == 2
    # the split-off record is under the new customer's own key: shredding it leaves `a` readable
    with platform.transaction() as s:
        platform.keys.shred(s, new)
    with platform.transaction() as s:
        assert assemble_customer(s, platform, a)["profile"]["name"]["value"] == NAME_A
        keys = list(s.scalars(select(DataKey).where(DataKey.customer_id == new)))
        assert keys and all(k.wrapped is None for k in keys)


def test_merge_refuses_two_national_ids(platform) -> None:
    got = _ingest(platform, [rec("jd_health", "a", [("national_id", NID_A)]),
                             rec("jd_health", "b", [("national_id", NID_B)])])
    with platform.transaction() as s, pytest.raises(Conflict):
        merge_customers(s, platform, got["a"], got["b"], "steward:bob", "looks alike")


def test_steward_operations_validate_input(platform) -> None:
    got = _ingest(platform, [rec("jd_health", "a", [("phone", PHONE_A)])])
    with platform.transaction() as s:
        with pytest.raises(ValidationError):
            merge_customers(s, platform, got["a"], got["a"], "x", "r")
        with pytest.raises(ValidationError):
            merge_customers(s, platform, got["a"], "0" * 32, "x", "")
        with pytest.raises(NotFound):
            merge_customers(s, platform, got["a"], "0" * 32, "x", "r")
        with pytest.raises(ValidationError):
            split_records(s, platform, got["a"], ["a"], "x", "r")  # would empty the customer
        with pytest.raises(NotFound):
            split_records(s, platform, got["a"], ["nope"], "x", "r")
