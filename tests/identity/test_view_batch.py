"""assemble_customers: the unified view of many customers in a fixed handful of queries,
exactly what assemble_customer returns for each, nothing lent across customers."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import event, select

from cdp.identity.models import Customer, Identifier, SourceRecord
from cdp.identity.stewardship import merge_customers
from cdp.identity.view import assemble_customer, assemble_customers
from cdp.platform import Platform
from tests.exports.data import direct_values, generated_records, ingest, register_sensitive


class _Queries:
    def __init__(self, platform: Platform):
        self.n = 0
        self.engine = platform.engine

    def __enter__(self) -> _Queries:  # noqa: PYI034
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args: object) -> None:
        self.n += 1


def test_batch_equals_one_by_one_in_few_queries(platform: Platform) -> None:
    records = generated_records(40, 21)
    register_sensitive(sorted(direct_values(records)))
    ingest(platform, records)
    with platform.transaction() as s:
        # Customers without a national ID, so the steward merge below cannot be refused
        # (customer ids are random, so "the first two" would differ between runs).
        with_nid = select(Identifier.customer_id).where(Identifier.type == "national_id")
        active = list(s.scalars(select(Customer.id).where(Customer.status == "active",
                                                          Customer.id.not_in(with_nid))
                                .order_by(Customer.id)))
        merge_customers(s, platform, active[0], active[1], "test", "same person, verified by phone")
        s.get(Customer, active[2]).status = "restricted"
    with platform.Session() as s:
        ids = list(s.scalars(select(Customer.id).order_by(Customer.id.desc())))
        owner = {r.source_record_id: r.customer_id for r in s.scalars(select(SourceRecord))}
        per_customer = Counter(owner.values())
        one_by_one = {cid: assemble_customer(s, platform, cid) for cid in ids}
        with _Queries(platform) as q:
            batch = assemble_customers(s, platform, ["f" * 32, *ids, ids[0]])
        # customers + records/keys/identifiers, interactions, consents, links: one each.
        assert q.n <= 5, q.n
        with _Queries(platform) as q1:
            assemble_customer(s, platform, ids[3])
        assert q1.n <= 5, q1.n
    assert list(batch) == ids  # input order, duplicates once, unknown ids left out
    assert batch == one_by_one
    merged = batch[active[1]]
    assert merged["status"] == "merged" and merged["merged_into"] == active[0]
    assert merged["identities"] == [] and merged["profile"] == {}
    assert batch[active[2]]["status"] == "restricted" and batch[active[2]]["identities"]
    # Nothing lent across customers: each identity is one of the customer's own records,
    # all of them, each with its identifiers decrypted.
    for cid, view in batch.items():
        got = [i["source_record_id"] for i in view["identities"]]
        assert all(owner[r] == cid for r in got)
        assert len(got) == per_customer.get(cid, 0) or view["status"] == "merged"
        for link in view["links"]:
            assert owner[link["source_record_id"]] == cid
    survivor = batch[active[0]]
    assert {owner[i["source_record_id"]] for i in survivor["identities"]} == {active[0]}
    assert sum(len(i["identifiers"]) for v in batch.values() for i in v["identities"]) > len(batch)
    assert any(i["value"].startswith("+86") for v in batch.values() for r in v["identities"]
               for i in r["identifiers"] if i["type"] == "phone")


def test_withheld_statuses_are_not_read(platform: Platform) -> None:
    records = generated_records(8, 22)
    register_sensitive(sorted(direct_values(records)))
    ingest(platform, records)
    with platform.transaction() as s:
        cid = s.scalar(select(Customer.id).where(Customer.status == "active").limit(1))
        s.get(Customer, cid).status = "restricted"
    with platform.Session() as s:
        shell = assemble_customers(s, platform, [cid], withhold_statuses=("restricted",))[cid]
        full = assemble_customers(s, platform, [cid])[cid]
    assert shell["status"] == "restricted"
    assert shell["identities"] == shell["orders"] == shell["consents"] == [] and shell["profile"] == {}
    assert full["identities"] and full["profile"]
