"""One customer per consent situation, created through the real ingest endpoint."""

from __future__ import annotations

import copy
from typing import Any

from tests.logcheck import register_sensitive

PHONE_RAW = "+86 138 1234 5678"
FULL_RECORD: dict[str, Any] = {
    "source": "jd_health",
    "source_record_id": "jd-matrix-1",
    "observed_at": "2026-03-01T10:22:00+08:00",
    "identifiers": [
        {"type": "phone", "value": PHONE_RAW},
        {"type": "email", "value": " ZhangSF@Example.com "},
        {"type": "platform_user_id", "value": "jd_a8k2x9q7"},
        {"type": "national_id", "value": "11010519850412703X"},
    ],
    "profile": {
        "name": "张三丰",
        "gender": "male",
        "birth_date": "1985-04-12",
        "address": "广东省深圳市南山区科技园路1号",
        "bank_card": "6222020200112233445",
    },
    "orders": [
        {
            "order_id": "JD1",
            "ordered_at": "2026-03-01T10:00:00+08:00",
            "total": 71.0,
            "items": [
                {"sku": "S1", "name": "二甲双胍缓释片", "rx": True, "qty": 2, "unit_price": 35.5}
            ],
        },
        {
            "order_id": "JD2",
            "ordered_at": "2026-03-02T10:00:00+08:00",
            "total": 20.0,
            "items": [
                {"sku": "S2", "name": "维生素C泡腾片", "rx": False, "qty": 1, "unit_price": 20.0}
            ],
        },
    ],
    "interactions": [
        {
            "kind": "complaint",
            "at": "2026-03-03T10:00:00+08:00",
            "text": "我的电话是13987654321，药品包装破损",
        }
    ],
    "consents": [
        {"purpose": "marketing", "granted": True, "at": "2026-01-01T00:00:00+08:00"},
        {"purpose": "marketing_health", "granted": True, "at": "2026-01-01T00:00:00+08:00"},
    ],
}

# What a category looks like in each view (written by hand, not computed by the renderer).
SHOWN: dict[str, dict[str, list[str]]] = {
    "contact": {
        "plain": ["+8613812345678", "zhangsf@example.com"],
        "masked": ["138****5678", "z***@example.com"],
    },
    "government_id": {"plain": ["11010519850412703X"], "masked": ["110***********703X"]},
    "platform_id": {"plain": ["jd_a8k2x9q7"], "masked": ["jd*******q7"]},
    "identity": {"plain": ["张三丰", "male"], "masked": ["张**"]},
    "demographic": {"plain": ["1985-04-12"], "masked": ["1985-**-**"], "redacted": ["1980s"]},
    "address": {
        "plain": ["广东省深圳市南山区科技园路1号"],
        "masked": ["广东省深圳市南山区****"],
        "redacted:city": ["广东省深圳市"],
        "redacted:province": ["广东省"],
    },
    "health": {"plain": ["二甲双胍缓释片"], "masked": ["JD1"], "redacted": ["antidiabetic"]},
    "purchase": {"plain": ["维生素C泡腾片"], "masked": ["JD2"]},
    "free_text": {"plain": ["13987654321"], "redacted": ["药品包装破损"]},
    "financial": {"plain": ["6222020200112233445"], "masked": ["6****************45"]},
    "consent": {"plain": ["marketing_health"], "masked": ["marketing_health"]},
}
# Fragments that must not appear unless the category is shown at the view named.
HIDDEN: dict[str, dict[str, list[str]]] = {
    "contact": {"plain": ["13812345678", "zhangsf"]},
    "government_id": {"plain": ["11010519850412703X", "0412703"]},
    "platform_id": {"plain": ["a8k2x9"]},
    "identity": {"plain": ["张三丰", "三丰"]},
    "demographic": {"plain": ["04-12"], "masked": ["1985"]},
    "address": {"plain": ["科技园"], "masked": ["南山区"], "redacted:city": ["深圳"]},
    "health": {"plain": ["二甲双胍"], "redacted": ["antidiabetic"], "masked": ["JD1"]},
    "purchase": {"plain": ["维生素C"], "masked": ["JD2"]},
    "free_text": {"plain": ["13987654321"], "redacted": ["包装破损"]},
    "financial": {"plain": ["6222020200112233445", "02001122"], "masked": ["6****"]},
    "consent": {"plain": ["marketing_health"]},
}
# Order of disclosure: a fragment hidden "at view V" may appear for V and anything more open.
OPENNESS = ["absent", "redacted:province", "redacted", "redacted:city", "masked", "plain"]

register_sensitive(
    [
        "13812345678",
        "11010519850412703X",
        "jd_a8k2x9q7",
        "张三丰",
        "科技园路1号",
        "二甲双胍缓释片",
        "13987654321",
        "6222020200112233445",
        "ZhangSF@Example.com",
    ]
)


def record_variant(record_id: str, n: int, consents: list[dict[str, Any]]) -> dict[str, Any]:
    """A different person (nothing in common with FULL_RECORD but the purchases)."""
    rec = copy.deepcopy(FULL_RECORD)
    rec["source_record_id"] = record_id
    rec["identifiers"] = [{"type": "phone", "value": f"1370000000{n}"}]
    rec["profile"] = {
        "name": ["李四", "王五", "赵六"][n % 3],
        "birth_date": f"199{n}-0{n}-1{n}",
        "address": "广东省深圳市福田区深南大道" + str(100 + n) + "号",
    }
    rec["consents"] = consents
    return rec


def ingest(client: Any, headers: dict[str, str], records: list[dict[str, Any]]) -> list[str]:
    r = client.post("/v1/records", json=records, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    results = body["results"] if isinstance(body, dict) else body
    return [res["customer_id"] for res in results]
