"""The fast ingest paths give the same answers as the plain ones.

Batch scanning (``scan_texts``, with its memo of repeated notes) must find exactly what
``scan_text`` finds; the classifier's shortcut for health-named fields must classify as the
full scan would; interactions repeated across records are redacted identically; customers
loaded for resolution in a later batch still carry their national ID and masked-phone
evidence (the load queries were rewritten to use the customer index).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from cdp.crypto import fields
from cdp.errors import ValidationError
from cdp.identity.models import Interaction, SourceRecord
from cdp.identity.pipeline import ingest_records
from cdp.identity.records import validate_record
from cdp.pii.classify import classify_field
from cdp.pii.scan import MAX_TEXT_CHARS, clear_memo, scan_text, scan_texts
from tests.identity.identity_records import NAME_A, NID_A, NID_B, PHONE_A, rec

NOTES = [
    "客户来电更新手机号，新号码13812345678，收件人王伟。",
    "订单状态已更新。",
    "Customer asked for an English invoice, email li.na@example.com.",
    "   ",
    "订单状态已更新。",  # repeated within the call
    "患者张三服用二甲双胍缓释片后胃部不适，身份证11010519850412703X。",
    "",
]


def test_scan_texts_is_scan_text_per_text() -> None:
    clear_memo()
    expected = [scan_text(t) for t in NOTES]
    assert scan_texts(NOTES) == expected
    # second call answered from the memo: still identical, and the caller may mutate its lists
    again = scan_texts(NOTES)
    assert again == expected
    again[0].clear()
    assert scan_texts(NOTES[:1]) == expected[:1]
    assert any(e.type == "PHONE_NUMBER" for e in expected[0])
    assert scan_texts(["Hi, I am John Smith"], "en") == [scan_text("Hi, I am John Smith", "en")]


def test_scan_texts_rejects_what_scan_text_rejects() -> None:
    with pytest.raises(ValidationError):
        scan_texts(["ok", 12345])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        scan_texts(["x" * (MAX_TEXT_CHARS + 1)])


@pytest.mark.parametrize("name,value,category", [
    # health-named fields are health whatever the value holds (decided without a scan)
    ("allergies", "青霉素过敏", "health"),
    ("allergies", "none", "health"),
    ("medical_history", {"note": "高血压十年，电话13812345678"}, "health"),
    # other names: the value is still scanned
    ("mobile_backup", "13812345678", "contact"),
    ("channel_meta", {"store_id": "S0420", "till": "T02", "cashier": "E6935"}, "unclassified"),
    ("contact_2", "13812345678", "contact"),
])
def test_classification_unchanged(name: str, value: object, category: str) -> None:
    assert classify_field(name, value) == category


def ingest(platform, records, batch_size):  # type: ignore[no-untyped-def]
    items = [(n, validate_record(r)) for n, r in enumerate(records, 1)]
    return ingest_records(platform, items, actor="test", batch_size=batch_size)


def test_repeated_notes_are_redacted_the_same_and_original_kept(platform) -> None:
    note = "客户来电更新手机号，新号码13812345678。"
    records = [rec("call_center", f"cc-{i}", [("member_id", f"M-{i}")]) for i in range(3)]
    for r in records:
        r["interactions"] = [{"kind": "service_note", "text": note}]
    ingest(platform, records, batch_size=2)
    with platform.transaction() as s:
        rows = s.execute(select(Interaction.id, Interaction.data_key_id, Interaction.text_ct,
                                Interaction.text_redacted_ct, Interaction.entity_types)).all()
        deks = platform.keys.load(s, {r.data_key_id for r in rows})
    assert len(rows) == 3
    redacted = set()
    for r in rows:
        key = deks[r.data_key_id]
        original = fields.decrypt(key, r.text_ct, fields.field_aad("interactions", "text_ct", r.id))
        assert original.decode() == note
        red = fields.decrypt(key, r.text_redacted_ct,
                             fields.field_aad("interactions", "text_redacted_ct", r.id)).decode()
        assert "13812345678" not in red
        redacted.add(red)
        assert "PHONE_NUMBER" in r.entity_types
    assert len(redacted) == 1


def test_evidence_of_stored_customers_is_loaded_in_later_batches(platform) -> None:
    """National ID and masked-phone evidence of customers stored by earlier batches still
    decides later records (batch size 1: every record resolves against stored state)."""
    masked = f"{PHONE_A[:3]}****{PHONE_A[-4:]}"
    records = [
        rec("jd_health", "jd-1", [("national_id", NID_A), ("phone", masked)], name=NAME_A),
        # a different valid national ID on the same phone: never the same customer
        rec("ali_health", "ali-1", [("national_id", NID_B), ("phone", PHONE_A)], name=NAME_A),
        # the masked phone plus the same name: the jd customer
        rec("pingan_health", "pa-1", [("phone", masked)], name=NAME_A, birth_date="1985-04-12"),
    ]
    ingest(platform, records, batch_size=1)
    with platform.transaction() as s:
        owner = dict(list(s.execute(
            select(SourceRecord.source_record_id, SourceRecord.customer_id)).tuples()))
    assert owner["jd-1"] != owner["ali-1"]
    assert owner["pa-1"] == owner["jd-1"]


def _holders_by_hand(s, id_keys, mk_keys, cap):  # type: ignore[no-untyped-def]
    """What the holder lookup must find, from plain selects of whole tables: every valid
    holder of an identifier pair, the first ``cap`` distinct holders of a match-key pair."""
    from cdp.identity.models import Identifier, MatchKey

    want: dict[tuple[str, str], set[str]] = {}
    for t, b, c in s.execute(select(Identifier.type, Identifier.bidx, Identifier.customer_id)
                             .where(Identifier.status == "valid")):
        if (f"id:{t}", b) in id_keys:
            want.setdefault((f"id:{t}", b), set()).add(c)
    held: dict[tuple[str, str], set[str]] = {}
    for k, b, c in s.execute(select(MatchKey.kind, MatchKey.bidx, MatchKey.customer_id)):
        if (k, b) in mk_keys:
            held.setdefault((k, b), set()).add(c)
    want.update({key: set(sorted(cs)[:cap]) for key, cs in held.items()})
    return want


def test_holder_lookup_finds_what_plain_selects_find(platform) -> None:
    """The holder lookup (exact pairs joined to an unnest on PostgreSQL, per-kind value lists
    on SQLite) finds exactly the holders plain selects find."""
    from cdp.identity.evidence import Evidence
    from cdp.identity.prepare import prepare
    from cdp.identity.rules import load_rules

    masked = f"{PHONE_A[:3]}****{PHONE_A[-4:]}"
    records = [
        rec("jd_health", "jd-1", [("national_id", NID_A), ("phone", masked)], name=NAME_A),
        rec("ali_health", "ali-1", [("national_id", NID_B), ("phone", PHONE_A)], name=NAME_A,
            birth_date="2003-09-15"),
        rec("app", "app-1", [("member_id", "M-77"), ("phone", PHONE_A)], name="李娜娜"),
    ]
    ingest(platform, records, batch_size=10)
    rules = load_rules(platform.policies)
    probe = [prepare(validate_record(r), platform.keyring, rules) for r in records]
    id_keys = {(f"id:{i.type}", i.bidx) for p in probe for i in p.identifiers
               if i.bidx and i.strength != "none"}
    mk_keys = {(k, b) for p in probe for k, b in p.match_keys}
    with platform.transaction() as s:
        ev = Evidence(s, platform, rules)
        ev.look_up(id_keys, mk_keys)
        want = _holders_by_hand(s, id_keys, mk_keys, rules.max_block_size + 1)
    assert dict(ev.index) == want
    assert len(want) >= 5  # national IDs, phones, member id, names, masked-phone keys


def test_a_common_match_key_costs_the_lookup_at_most_its_cap(platform) -> None:
    """A blocking value held by more customers than ``max_block_size`` + 1 (a common name)
    is read only up to that cap: the lookup returns the first holders by customer id, and on
    PostgreSQL its index scan stops at the cap instead of reading every holder (which grows
    with the database: thousands per common name at a million customers)."""
    import dataclasses

    from cdp.db import is_postgres
    from cdp.identity.evidence import _MK_PAIRS_SQL, Evidence
    from cdp.identity.prepare import prepare
    from cdp.identity.rules import load_rules

    holders = 14
    # one name, every record its own phone and birth date: fourteen customers, no merge
    records = [rec("app", f"n-{i}", [("phone", f"1391234{i:04d}")], name=NAME_A,
                   birth_date=f"19{50 + i}-0{1 + i % 9}-1{i % 9}") for i in range(holders)]
    ingest(platform, records, batch_size=100)
    rules = dataclasses.replace(load_rules(platform.policies), max_block_size=3)
    cap = rules.max_block_size + 1
    probe = prepare(validate_record(records[0]), platform.keyring, rules)
    name_keys = {(k, b) for k, b in probe.match_keys if k == "name"}
    unheld = ("name", "0" * 64)
    plan = None
    with platform.transaction() as s:
        ev = Evidence(s, platform, rules)
        ev.look_up(set(), name_keys | {unheld})
        want = _holders_by_hand(s, set(), name_keys | {unheld}, cap)
        if is_postgres(s):
            pairs = sorted(name_keys)
            plan = s.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + _MK_PAIRS_SQL.text),
                             {"kinds": [k for k, _ in pairs], "bidxs": [v for _, v in pairs],
                              "cap": cap}).scalar_one()
    assert dict(ev.index) == want
    assert unheld not in ev.index
    assert name_keys and all(len(ev.index[k]) == cap for k in name_keys)
    if plan is None:
        return

    def scanned(node: dict) -> int:  # type: ignore[type-arg]
        own = (node["Actual Rows"] * node["Actual Loops"]
               if node.get("Relation Name") == "match_keys" else 0)
        return own + sum(scanned(c) for c in node.get("Plans", []))

    plan = plan if isinstance(plan, list) else json.loads(plan)
    assert 0 < scanned(plan[0]["Plan"]) <= (cap + 1) * len(name_keys)


def test_undeclared_field_values_are_read_by_the_batched_name_model(platform, monkeypatch) -> None:
    """Preparing a chunk runs the name model over its undeclared fields' values in the
    chunk's batches, not one value at a time, and classifies them as classify_field does."""
    from cdp.identity.pipeline import _prepare_all
    from cdp.identity.rules import load_rules
    from cdp.pii import scan
    from cdp.pii.models.lac import LacModel

    singles: list[str] = []
    original = LacModel.spans

    def counting(self, text, only=None):  # type: ignore[no-untyped-def]
        singles.append(text)
        return original(self, text, only)

    scan.clear_memo()
    monkeypatch.setattr(LacModel, "spans", counting)
    def extras(i: int) -> dict[str, object]:
        return {"remark_zh": f"顾客说下次让她女儿周晓{chr(0x4E00 + i)}来取药",
                "wechat_nick": f"小{chr(0x4E50 + i)}同学",
                "store_memo": {"note": f"常客，住在朝阳区建国路{i}号附近"}}

    records = [validate_record(rec("app", f"x{i}", [("phone", f"139{i:08d}")], name="王伟",
                                   **extras(i)) | {"till_note": f"付款{i}元"})
               for i in range(6)]
    prepared = _prepare_all(records, platform.keyring, load_rules(platform.policies),
                            platform.policies)
    assert singles == []  # every model run was a batch
    monkeypatch.setattr(LacModel, "spans", original)
    scan.clear_memo()
    for p, r in zip(prepared, records, strict=True):
        got = {x["field"]: x["category"] for x in json.loads(p.extra_json or b"[]")}
        want = {k: classify_field(k, v) for k, v in {**r.profile, **r.model_extra}.items()
                if k != "name"}
        assert got == want
