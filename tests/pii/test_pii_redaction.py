"""Offsets on mixed text, the operators, policy files, and what is stored at rest."""

from __future__ import annotations

import os

import pytest

from cdp.crypto import fields
from cdp.errors import DecryptionError, ValidationError
from cdp.pii.classify import classify_field
from cdp.pii.redact import redact_for, redact_text, restore_encrypted
from cdp.pii.scan import scan_text

pytestmark = pytest.mark.usefixtures("analyzer")

# Full-width punctuation, emoji (outside the BMP: one character, two UTF-16 units, four
# UTF-8 bytes), Latin and Han mixed, values at the very start and end.
MIXED = ("13812345678😡😡客服你好！我是欧阳娜娜（Nana），email：nana.ouyang@163.com；"
         "身份证：11010519491231002X🙏收货地址：广东省深圳市南山区科技园南路15号3栋2单元501室。"
         "Refill of metformin for my hypertension, card 6222021234567890128")
VALUES = {
    "PHONE_NUMBER": "13812345678",
    "PERSON": "欧阳娜娜",
    "EMAIL_ADDRESS": "nana.ouyang@163.com",
    "CN_RESIDENT_ID": "11010519491231002X",
    "LOCATION": "广东省深圳市南山区科技园南路15号3栋2单元501室",
    "BANK_CARD": "6222021234567890128",
}


def test_offsets_exact_on_mixed_text_with_emoji_and_fullwidth_punctuation():
    ents = scan_text(MIXED)
    got = {e.type: MIXED[e.start : e.end] for e in ents if e.type in VALUES}
    assert got == VALUES
    for e in ents:  # Python string offsets, i.e. code points: the emoji count as one
        assert MIXED.index(MIXED[e.start : e.end]) <= e.start
    health = [MIXED[e.start : e.end] for e in ents if e.type == "HEALTH_TERM"]
    assert health == ["metformin", "hypertension"]


def test_storage_copy_holds_none_of_the_detected_values():
    result = redact_text(MIXED, "storage")
    for e in result.entities:
        assert MIXED[e.start : e.end] not in result.text
    assert "<PHONE_NUMBER>" in result.text and "<PERSON>" in result.text
    assert "😡😡客服你好！" in result.text  # the rest of the text is untouched


def test_masked_view_formats():
    out = redact_for("电话13812345678，身份证11010519491231002X", "masked")
    assert out == "电话138****5678，身份证110***********002X"
    # the same number in another layout masks the same way
    assert redact_for("电话+86 138-1234-5678", "masked") == "电话138****5678"


def test_issue_examples_mask_exactly():
    assert redact_for("ID 11010519850412703X", "masked") == "ID 110***********703X"


def test_pseudonyms_are_keyed_and_stable():
    k1, k2 = os.urandom(32), os.urandom(32)
    a = redact_for("电话13812345678", "pseudonymised", k1)
    b = redact_for("手机号是+86 138 1234 5678", "pseudonymised", k1)
    c = redact_for("电话13812345678", "pseudonymised", k2)
    token = a.removeprefix("电话")
    assert token.startswith("<PHONE_NUMBER:") and "13812345678" not in token
    assert b.endswith(token)          # same person, another layout: same pseudonym (joins)
    assert c.removeprefix("电话") != token  # another key: unlinkable
    with pytest.raises(ValidationError):
        redact_for("电话13812345678", "pseudonymised")  # no key, no pseudonym


def test_encrypted_spans_decrypt_byte_identical_and_resist_tampering():
    key = os.urandom(32)
    result = redact_text(MIXED, "encrypted", key)
    for value in VALUES.values():
        assert value not in result.text
    assert restore_encrypted(result.text, key).encode("utf-8") == MIXED.encode("utf-8")
    with pytest.raises(DecryptionError):
        restore_encrypted(result.text, os.urandom(32))
    # moving a span's ciphertext under another type's tag breaks authentication
    start = result.text.index("<enc:PHONE_NUMBER:")
    swapped = result.text[:start] + result.text[start:].replace("PHONE_NUMBER", "PERSON", 1)
    with pytest.raises(DecryptionError):
        restore_encrypted(swapped, key)


def test_original_stored_encrypted_round_trips_byte_identical():
    """At rest: the redacted copy plus the original under field encryption (AES-256-GCM)."""
    key = os.urandom(32)
    aad = fields.field_aad("interactions", "text", "row-1")
    blob = fields.encrypt(key, MIXED.encode("utf-8"), aad)
    stored = redact_text(MIXED, "storage").text
    assert all(v.encode() not in blob and v not in stored for v in VALUES.values())
    assert fields.decrypt(key, blob, aad) == MIXED.encode("utf-8")


def test_pharmacist_view_keeps_health_terms_hides_identifiers():
    out = redact_for("患者张伟有高血压，电话13812345678，邮箱a.b@qq.com", "pharmacy_care")
    assert "高血压" in out and "138****5678" in out
    assert "a.b@qq.com" not in out and "张伟" not in out


def test_unknown_policy_is_refused_not_shown_in_plain():
    with pytest.raises(ValidationError):
        redact_for("电话13812345678", "plain")
    with pytest.raises(ValidationError):
        redact_for("电话13812345678", "../storage")


def test_policy_file_decides_the_operator(tmp_path, monkeypatch):
    pii = tmp_path / "pii"
    pii.mkdir()
    (pii / "custom.toml").write_text('[default]\noperator = "redact"\n'
                                     '[entities.PHONE_NUMBER]\noperator = "replace"\n'
                                     'value = "[号码]"\n', encoding="utf-8")
    (pii / "broken.toml").write_text('[default]\noperator = "rot13"\n', encoding="utf-8")
    monkeypatch.setenv("CDP_POLICY_DIR", str(tmp_path))
    assert redact_for("李女士电话13812345678", "custom") == "电话[号码]"
    with pytest.raises(ValidationError):
        redact_for("电话13812345678", "broken")


@pytest.mark.parametrize(
    ("name", "value", "category"),
    [
        ("mobile_backup", "13912345678", "contact"),
        ("备用联系方式", "wang.fang@163.com", "contact"),
        ("extra", "11010519491231002X", "government_id"),
        ("allergy", "青霉素", "health"),
        ("remark", "患者有高血压，需要复诊", "health"),
        ("nickname", "小王", "identity"),
        ("card_no", "6222021234567890128", "financial"),
        ("shipping_addr", "北京市朝阳区建国路88号", "address"),
        ("x_flag", "Y", "unclassified"),
        ("留言", "东西不错，下次还来买，物流很快", "free_text"),
    ],
)
def test_classify_undeclared_fields(name, value, category):
    assert classify_field(name, value) == category


def test_blank_and_none_pass_through():
    assert redact_for(None, "redacted") is None
    assert redact_for("   ", "redacted") == "   "
    assert scan_text("") == []
