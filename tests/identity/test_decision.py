"""The match decision as a pure function: hand-built candidates, no database.

Each case is a record prepared for real (normal forms, blind indexes under a fresh keyring)
and a small in-memory set of candidate customers with the features they hold.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from cdp.crypto.keyring import Keyring
from cdp.identity.decision import decide
from cdp.identity.matching import Features
from cdp.identity.prepare import PreparedRecord, prepare
from cdp.identity.records import validate_record
from cdp.identity.rules import IdentityRules

NID_A = "11010519850412703X"
NID_B = "110105198604127037"


class Known:
    """Candidates: customers and what their stored records say (built from prepared records)."""

    def __init__(self) -> None:
        self.features: dict[str, Features] = {}
        self.index: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.inactive: set[str] = set()
        self.redirect: dict[str, str] = {}

    def add(self, cid: str, p: PreparedRecord) -> None:
        self.features.setdefault(cid, Features()).absorb(p.features)
        for i in p.identifiers:
            if i.bidx and i.strength != "none":
                self.index[(f"id:{i.type}", i.bidx)].add(cid)
        for kind, b in p.match_keys:
            self.index[(kind, b)].add(cid)

    def final(self, cid: str) -> str:
        while cid in self.redirect:
            cid = self.redirect[cid]
        return cid

    def holders(self, kind: str, bidx: str) -> set[str]:
        return {self.final(c) for c in self.index.get((kind, bidx), ())} - self.inactive


def rec(keyring: Keyring, rules: IdentityRules, srid: str, ids: list[tuple[str, str]],
        **profile: Any) -> PreparedRecord:
    raw = {"source": "app", "source_record_id": srid,
           "identifiers": [{"type": t, "value": v} for t, v in ids], "profile": profile}
    return prepare(validate_record(raw), keyring, rules)


def test_no_candidate_makes_a_new_customer(keyring, rules) -> None:  # type: ignore[no-untyped-def]
    d = decide(rec(keyring, rules, "r1", [("phone", "13812345678")], name="张三"), None,
               Known(), rules)
    assert d.group == [] and d.rule == "new" and d.score is None


def test_a_strong_identifier_links_on_its_own(keyring, rules) -> None:  # type: ignore[no-untyped-def]
    known = Known()
    known.add("c1", rec(keyring, rules, "old", [("member_id", "M-1")], name="张三"))
    d = decide(rec(keyring, rules, "new", [("member_id", "M-1")], name="李四"), None, known, rules)
    assert d.group == ["c1"] and d.rule == "deterministic:member_id"
    assert d.evidence == ["member_id"]


def test_two_national_ids_never_merge(keyring, rules) -> None:  # type: ignore[no-untyped-def]
    """A record holding member id M-1 and national ID B meets a customer with M-1 and ID A:
    the strong conflict wins, the record does not join that customer."""
    known = Known()
    known.add("c1", rec(keyring, rules, "a", [("member_id", "M-1"), ("national_id", NID_A)]))
    d = decide(rec(keyring, rules, "b", [("member_id", "M-1"), ("national_id", NID_B)]), None,
               known, rules)
    assert "c1" not in d.group


def test_a_shared_phone_with_a_conflicting_profile_does_not_link(keyring, rules) -> None:  # type: ignore[no-untyped-def]
    """Family members share a phone: a medium identifier with a different name and birth date
    is not identity."""
    known = Known()
    known.add("mother", rec(keyring, rules, "m", [("phone", "13812345678")], name="王秀英",
                            birth_date="1961-03-02", gender="female"))
    d = decide(rec(keyring, rules, "s", [("phone", "13812345678")], name="王小明",
                   birth_date="1990-07-15", gender="male"), None, known, rules)
    assert d.group == []


def test_a_shared_phone_with_the_same_person_links(keyring, rules) -> None:  # type: ignore[no-untyped-def]
    known = Known()
    known.add("c1", rec(keyring, rules, "m", [("phone", "13812345678")], name="王秀英",
                        birth_date="1961-03-02"))
    d = decide(rec(keyring, rules, "n", [("phone", "+86 138 1234 5678")], name="王秀英",
                   birth_date="1961-03-02"), None, known, rules)
    assert d.group == ["c1"] and d.rule == "deterministic:phone"


def test_a_record_joining_two_customers_merges_them(keyring, rules) -> None:  # type: ignore[no-untyped-def]
    known = Known()
    known.add("c1", rec(keyring, rules, "a", [("member_id", "M-1")], name="赵敏"))
    known.add("c2", rec(keyring, rules, "b", [("wechat_unionid", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M")],
                        name="赵敏"))
    d = decide(rec(keyring, rules, "c", [("member_id", "M-1"),
                                         ("wechat_unionid", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M")],
                   name="赵敏"), None, known, rules)
    assert sorted(d.group) == ["c1", "c2"]
    assert d.rule == "deterministic:member_id+wechat_unionid"


def test_an_update_stays_with_its_customer(keyring, rules) -> None:  # type: ignore[no-untyped-def]
    known = Known()
    known.add("c1", rec(keyring, rules, "a", [("phone", "13812345678")], name="张三"))
    d = decide(rec(keyring, rules, "a", [], name="张三"), "c1", known, rules)
    assert d.group == ["c1"] and d.rule == "deterministic:update"


def test_a_merged_or_erased_candidate_is_never_chosen(keyring, rules) -> None:  # type: ignore[no-untyped-def]
    known = Known()
    known.add("gone", rec(keyring, rules, "a", [("member_id", "M-9")]))
    known.inactive.add("gone")
    d = decide(rec(keyring, rules, "b", [("member_id", "M-9")]), None, known, rules)
    assert d.group == []
