"""Compound blocking: a common key finds only the customers who share a second field's key.

A key held by at most ``single_block_size`` customers blocks on its own; a commoner one (a
common name, at a million customers every birth date) only together with a key of another
field. Without that the customers each record is compared with, each read and decrypted,
grow with the database (0.8 per record at 80,000 records, 3.8 at 400,000 on the generated
million-person file before this rule).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cdp.identity.decision import blocked, decide
from cdp.identity.prepare import prepare
from cdp.identity.records import validate_record
from cdp.identity.resolve import ingest_batch
from cdp.identity.rules import load_rules
from tests.identity.test_decision import Known, rec


def _holders(index: dict[tuple[str, str], set[str]]):  # type: ignore[no-untyped-def]
    return lambda k, b: index.get((k, b), set())


def test_blocked_counts_holders_per_key(rules) -> None:  # type: ignore[no-untyped-def]
    few = {f"f{i}" for i in range(rules.single_block_size)}
    many_names = {f"n{i}" for i in range(rules.single_block_size + 1)}
    many_dobs = {"n0", *(f"d{i}" for i in range(rules.single_block_size))}
    too_many = {f"t{i}" for i in range(rules.max_block_size + 1)} | {"n1"}
    index = {("name", "N"): many_names, ("dob", "D"): many_dobs, ("addr", "A"): few,
             ("name_py", "P"): too_many}
    # a rare key blocks its holders; a common one nobody on its own
    assert blocked([("addr", "A")], _holders(index), rules) == few
    assert blocked([("name", "N")], _holders(index), rules) == set()
    # two common keys of two fields: only the customer holding both
    assert blocked([("name", "N"), ("dob", "D")], _holders(index), rules) == {"n0"}
    # two keys of one field (name and its pinyin) are not two fields, and a key held by
    # more than max_block_size customers counts for nothing
    assert blocked([("name", "N"), ("name_py", "P")], _holders(index), rules) == set()
    # kinds that are not blocking keys are ignored
    assert blocked([("id:phone", "N")], _holders(index), rules) == set()


def test_a_common_name_links_through_a_second_field(keyring, rules) -> None:  # type: ignore[no-untyped-def]
    """Twelve customers are called 王伟 and twelve were born on 1975-05-05; one is both. A
    record of 王伟 born 1975-05-05 is compared with that one only, and links to it."""
    known = Known()
    for i in range(11):
        known.add(f"name{i}", rec(keyring, rules, f"n{i}", [], name="王伟",
                                  birth_date=f"19{50 + i}-01-0{1 + i % 9}"))
        known.add(f"dob{i}", rec(keyring, rules, f"d{i}", [], name=f"李{'一二三四五六七八九十百'[i]}明",
                                 birth_date="1975-05-05"))
    known.add("both", rec(keyring, rules, "b", [], name="王伟", birth_date="1975-05-05"))
    p = rec(keyring, rules, "new", [], name="王伟", birth_date="1975-05-05")
    assert blocked(p.match_keys, known.holders, rules) == {"both"}
    d = decide(p, None, known, rules)
    assert d.group == ["both"] and d.rule == "probabilistic"
    # the same decision as when every holder is compared (the rule only spares work here)
    wide = dataclasses.replace(rules, single_block_size=rules.max_block_size)
    assert decide(p, None, known, wide).group == ["both"]


def test_ingest_loads_no_customer_a_common_name_alone_points_at(platform) -> None:  # type: ignore[no-untyped-def]
    rules = load_rules(platform.policies)

    def batch(records: list[dict[str, Any]]) -> int:
        prepared = [prepare(validate_record(r), platform.keyring, rules) for r in records]
        with platform.transaction() as s:
            _, stats = ingest_batch(s, platform, prepared, actor="test", rules=rules)
        return stats.candidates

    n = rules.single_block_size + 2
    batch([{"source": "app", "source_record_id": f"w{i}", "identifiers": [],
            "profile": {"name": "王伟", "birth_date": f"19{50 + i}-02-0{1 + i % 9}"}}
           for i in range(n)])
    # the name is held by n customers, the birth date by one of them: one candidate read
    assert batch([{"source": "jd_health", "source_record_id": "x1", "identifiers": [],
                   "profile": {"name": "王伟", "birth_date": "1950-02-01"}}]) == 1
    # the name alone: nobody is read (before the rule: all n)
    assert batch([{"source": "jd_health", "source_record_id": "x2", "identifiers": [],
                   "profile": {"name": "王伟", "gender": "male"}}]) == 0
