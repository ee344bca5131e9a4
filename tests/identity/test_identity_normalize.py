"""Normalisation traps: each form a channel sends must meet its twin, and never more."""

from __future__ import annotations

import pytest

from cdp.identity import normalize as nz
from cdp.identity.prepare import prepare
from cdp.identity.records import validate_record
from cdp.identity.rules import load_rules
from cdp.policyfiles import PolicyFiles
from tests.conftest import POLICY_DIR
from tests.identity.identity_records import NID_A, NID_BAD, rec


@pytest.mark.parametrize("raw", ["+86 138 1234 5678", "138-1234-5678", "0086 13812345678",
                                 "8613812345678", "(138) 1234 5678", "１３８１２３４５６７８"])
def test_phone_formats_reach_one_e164(raw: str) -> None:
    n = nz.normalize_phone(raw)
    assert (n.status, n.norm) == ("valid", "+8613812345678")


def test_masked_phone_is_weak_evidence_only() -> None:
    n = nz.normalize_phone("138****5678")
    assert n.status == "masked" and n.norm is None
    full = nz.normalize_phone("13812345678")
    # prefix+suffix meet the full number's, which is all a masked number may do
    assert n.weak == full.weak == (("phone_ps", "1385678"),)


def test_till_placeholder_is_blocked_by_policy(keyring) -> None:
    rules = load_rules(PolicyFiles(POLICY_DIR))
    p = prepare(validate_record(rec("store_pos", "s1", [("phone", "138 0013 8000")])), keyring, rules)
    assert p.identifiers[0].status == "placeholder"
    assert p.identifiers[0].strength == "none"
    assert not p.features.ids


def test_email_trimmed_and_lowercased() -> None:
    assert nz.normalize_email("  Zhang.San@EXAMPLE.com ").norm == "zhang.san@example.com"
    assert nz.normalize_email("not-an-email").status == "invalid"


def test_national_id_checksum() -> None:
    assert nz.normalize_national_id(NID_A.lower()).norm == NID_A
    bad = nz.normalize_national_id(NID_BAD)
    assert bad.status == "invalid" and bad.norm is None


def test_invalid_national_id_is_flagged_and_never_matched(keyring) -> None:
    rules = load_rules(PolicyFiles(POLICY_DIR))
    p = prepare(validate_record(rec("jd_health", "j1", [("national_id", NID_BAD)])), keyring, rules)
    assert p.identifiers[0].status == "invalid"
    assert p.identifiers[0].bidx is None and "national_id" not in p.features.ids


def test_traditional_and_simplified_names_are_one() -> None:
    assert nz.normalize_name("張偉").text == nz.normalize_name("张伟").text == "张伟"


def test_honorific_only_name_is_surname_plus_gender() -> None:
    n = nz.normalize_name("王先生")
    assert (n.kind, n.surname, n.gender) == ("honorific", "王", "male")
    assert nz.names_relation(n, nz.normalize_name("王伟")) == "compatible"
    assert nz.names_relation(n, nz.normalize_name("李伟")) == "conflict"


@pytest.mark.parametrize("latin", ["Zhang Wei", "ZHANG WEI", "Wei Zhang", "zhang wei"])
def test_pinyin_comparable_to_chinese(latin: str) -> None:
    assert nz.names_relation(nz.normalize_name("张伟"), nz.normalize_name(latin)) == "same"


def test_pinyin_given_name_written_as_one_word() -> None:
    assert nz.names_relation(nz.normalize_name("张晓明"), nz.normalize_name("Zhang Xiaoming")) == "same"


def test_homophone_typo_same_but_family_names_conflict() -> None:
    assert nz.names_relation(nz.normalize_name("张伟"), nz.normalize_name("张玮")) == "same"
    assert nz.names_relation(nz.normalize_name("王建国"), nz.normalize_name("王小明")) == "conflict"


def test_nickname_compatible_with_its_name_only() -> None:
    assert nz.names_relation(nz.normalize_name("小伟"), nz.normalize_name("张伟")) == "compatible"
    assert nz.names_relation(nz.normalize_name("老张"), nz.normalize_name("张伟")) == "compatible"
    assert nz.names_relation(nz.normalize_name("小伟"), nz.normalize_name("张芳")) == "conflict"


def test_scoped_identifiers_carry_their_source() -> None:
    a = nz.normalize_identifier("platform_user_id", "u1", "jd_health")
    b = nz.normalize_identifier("platform_user_id", "u1", "ali_health")
    assert a.norm != b.norm


def test_unknown_identifier_type_kept_not_matched() -> None:
    n = nz.normalize_identifier("qq_number", "12345", "app")
    assert n.status == "unknown_type" and n.norm is None


def test_birth_dates() -> None:
    assert nz.normalize_birth_date("1985/04/12") == "1985-04-12"
    assert nz.normalize_birth_date("19560231") is None


def test_name_kind_is_the_kind_normalize_name_gives() -> None:
    """The golden record ranks names by ``name_kind`` (no pinyin); it must say exactly what
    ``normalize_name(...).kind`` says, on the generator's names and on each kind's edges."""
    from tests.exports.data import generated_records

    names = {r["profile"]["name"] for r in generated_records(400, 11)
             if isinstance((r.get("profile") or {}).get("name"), str)}
    names |= {"王先生", "欧阳女士", "李小姐", "小王", "阿强", "丽丽", "張偉", "张 伟", "司马相如",
              "Zhang Wei", "ZHANG  wei", "José Núñez", "123", "·", "", "  ", "先生", "王老师傅"}
    assert len(names) > 300
    kinds = set()
    for name in names:
        info = nz.normalize_name.__wrapped__(name)
        expected = info.kind if info else None
        assert nz.name_kind.__wrapped__(name) == expected, name
        kinds.add(expected)
    assert {"full", "honorific", "nickname", "latin", "other", None} <= kinds


def test_a_policy_cannot_unscope_channel_identifiers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Unscoping platform_user_id would let one marketplace's account name link another's
    customer; the key used to be parsed and ignored, so a steward could believe it worked."""
    import shutil
    from pathlib import Path

    from cdp.errors import CdpError
    from cdp.policyfiles import PolicyFiles

    shutil.copy(Path(POLICY_DIR) / "identity.toml", tmp_path / "identity.toml")
    text = (tmp_path / "identity.toml").read_text(encoding="utf-8")
    text = text.replace("[identifiers]\n", '[identifiers]\nscoped_by_source = ["wechat_openid"]\n', 1)
    (tmp_path / "identity.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CdpError) as err:
        load_rules(PolicyFiles(tmp_path))
    assert err.value.code == "policy_invalid"
