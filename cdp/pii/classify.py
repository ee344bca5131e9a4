"""Classify an undeclared profile field into a data category (DESIGN.md "Data categories").

The field name is the first witness (``mobile``, ``身份证``, ``allergy``...); the value is the
second: a scan says what personal data it holds. Unknown stays ``unclassified`` so the
caller encrypts and hides it (deny by default).
"""

from __future__ import annotations

import re
from typing import Any

from cdp.errors import ValidationError
from cdp.pii.scan import MAX_TEXT_CHARS, scan_text

# Most sensitive first: when name or value evidence points several ways, the first wins.
CATEGORY_ORDER = ("health", "government_id", "financial", "contact", "address", "identity",
                  "demographic", "platform_id", "free_text", "purchase")

_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cat, re.compile(pat, re.IGNORECASE)) for cat, pat in (
        ("health", r"diagnos|prescri|allerg|symptom|disease|illness|condition|medica|drug|"
                   r"dosage|treatment|therapy|medical|health|clinic|icd|诊断|处方|过敏|症状|"
                   r"病|药|用药|医疗|健康|病史|体检"),
        ("government_id", r"national_?id|id_?card|id_?no|id_?number|resident_?id|passport|"
                          r"ssn|身份证|护照|证件"),
        ("financial", r"bank|card_?(?:no|number)|iban|account_?no|credit|debit|银行|卡号|"
                      r"信用卡|账户"),
        ("contact", r"phone|mobile|tel|cell|e_?mail|fax|wechat_?(?:no|id)?$|qq|手机|电话|"
                    r"邮箱|微信号|联系方式"),
        ("address", r"address|addr|street|city|province|district|zip|postcode|postal|"
                    r"地址|住址|省|市|区|街道|邮编"),
        ("platform_id", r"openid|unionid|member_?id|user_?id|device|platform|会员号|"
                        r"用户id|设备"),
        ("identity", r"(?:^|_)name$|^name|full_?name|nick|gender|sex|姓名|名字|性别|昵称"),
        ("demographic", r"birth|dob|age$|^age|marital|occupation|education|nationality|"
                        r"ethnic|生日|出生|年龄|职业|民族|婚"),
        ("free_text", r"note|comment|remark|memo|message|feedback|review|complaint|text|"
                      r"description|备注|留言|评价|投诉|说明"),
    )
)

_ENTITY_CATEGORY = {
    "HEALTH_TERM": "health",
    "CN_RESIDENT_ID": "government_id",
    "CN_PASSPORT": "government_id",
    "BANK_CARD": "financial",
    "PHONE_NUMBER": "contact",
    "EMAIL_ADDRESS": "contact",
    "LOCATION": "address",
    "PERSON": "identity",
    "IP_ADDRESS": "platform_id",
}


def _flatten(value: Any, budget: int = MAX_TEXT_CHARS) -> str:
    """Text of a scalar, list or dict value (nested values joined), capped in length."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, (str, int, float)):
        return str(value)[:budget]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        parts, used = [], 0
        for v in value:
            s = _flatten(v, budget - used)
            parts.append(s)
            used += len(s) + 1
            if used >= budget:
                break
        return "\n".join(parts)[:budget]
    return ""


def text_to_scan(name: str, value: Any) -> str:
    """The text :func:`classify_field` scans for ``name`` holding ``value`` ("" when the
    name alone decides): for a caller that batches the scans of many fields ahead."""
    if next((cat for cat, rx in _NAME_RULES if rx.search(name or "")), None) == "health":
        return ""
    return _flatten(value)


def classify_field(name: str, value: Any) -> str:
    """The data category of an undeclared field ``name`` holding ``value``.

    Health evidence from either the name or the value wins (sensitive under PIPL art. 28);
    otherwise the name decides when it is telling, then the value's detected entities;
    longer prose with no identifiable entity is ``free_text``; anything else
    ``unclassified``.
    """
    name_cat = next((cat for cat, rx in _NAME_RULES if rx.search(name or "")), None)
    if name_cat == "health":
        # decided by the name whatever the value holds: no need to scan it
        return "health"
    text = _flatten(value)
    value_cats: list[str] = []
    covered = 0
    if text.strip():
        try:
            entities = scan_text(text)
        except ValidationError:
            entities = []
        value_cats = [_ENTITY_CATEGORY[e.type] for e in entities if e.type in _ENTITY_CATEGORY]
        covered = sum(e.end - e.start for e in entities)
    if "health" in value_cats or name_cat == "health":
        return "health"
    if name_cat and name_cat != "free_text":
        return name_cat
    stripped = len(text.strip())
    if value_cats and (covered * 2 >= stripped or name_cat is None) and stripped < 64:
        # the value is essentially one identifier: classify by the most sensitive one
        return min(value_cats, key=CATEGORY_ORDER.index)
    if name_cat == "free_text" or stripped >= 20 and re.search(r"\s|[\u4e00-\u9fff]{6}", text):
        return "free_text"
    if value_cats:
        return min(value_cats, key=CATEGORY_ORDER.index)
    return "unclassified"
