"""Small hand-made source records for identity tests (values registered as sensitive)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.logcheck import register_sensitive

NID_A = "11010519850412703X"  # valid cn.ric
NID_B = "440304200309150171"  # valid cn.ric
NID_BAD = "110105198504127031"  # checksum wrong
PHONE_A = "13812345678"
PHONE_FAMILY = "13987654321"
EMAIL_A = "Zhang.San@Example.com"
NAME_A = "张三丰"
NAME_A_TRAD = "張三豐"
ADDR_A = "北京市朝阳区建国路88号3栋2单元1201室"

register_sensitive([NID_A, NID_B, NID_BAD, PHONE_A, PHONE_FAMILY, "zhang.san@example.com",
                    NAME_A, ADDR_A, "王建国", "王小明", "李娜娜"])


def rec(source: str, rid: str, identifiers: list[tuple[str, str]] | None = None,
        **profile: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": source,
        "source_record_id": rid,
        "observed_at": "2025-03-01T10:22:00+08:00",
        "identifiers": [{"type": t, "value": v} for t, v in identifiers or []],
        "profile": profile,
    }
    return out


def write_jsonl(path: Path, records: list[Any]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)
    return path
