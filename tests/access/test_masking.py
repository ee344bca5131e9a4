"""Masking and generalisation of single values, and the rule that code names no role."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from cdp.access import masking
from tests.conftest import POLICY_DIR, REPO


@pytest.mark.parametrize(
    ("fn", "value", "expected"),
    [
        (masking.mask_phone, "+8613812345678", "138****5678"),
        (masking.mask_phone, "138 1234 5678", "138****5678"),
        (masking.mask_government_id, "11010519850412703X", "110***********703X"),
        (masking.mask_name, "张三", "张*"),
        (masking.mask_name, "欧阳娜娜", "欧***"),
        (masking.mask_name, "John Smith", "J*** S****"),
        (masking.mask_email, "zhangsan@example.com", "z***@example.com"),
        (masking.mask_birth_date, "1985-04-12", "1985-**-**"),
        (masking.decade, "1985-04-12", "1980s"),
    ],
)
def test_masks(fn, value: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert fn(value) == expected


@pytest.mark.parametrize(
    ("address", "province", "city", "masked"),
    [
        ("北京市朝阳区建国路88号", "北京市", "北京市", "北京市朝阳区****"),
        ("上海浦东新区世纪大道1号", "上海市", "上海市", "上海市浦东新区****"),
        ("广东省深圳市南山区科技园路1号", "广东省", "广东省深圳市", "广东省深圳市南山区****"),
        (
            "新疆维吾尔自治区乌鲁木齐市天山区解放路",
            "新疆维吾尔自治区",
            "新疆维吾尔自治区乌鲁木齐市",
            "新疆维吾尔自治区乌鲁木齐市天山区****",
        ),
        ("12 Smith Street, Sydney", "[REDACTED]", "[REDACTED]", "[REDACTED]"),
    ],
)
def test_address_generalisation(address: str, province: str, city: str, masked: str) -> None:
    assert masking.generalise_address(address, "province") == province
    assert masking.generalise_address(address, "city") == city
    assert masking.mask_address(address) == masked


def test_no_role_name_in_enforcement_or_rendering_code() -> None:
    roles = tomllib.loads(Path(POLICY_DIR, "roles.toml").read_text())["roles"]
    files = [
        REPO / "cdp/access" / f
        for f in ("views.py", "service.py", "render.py", "guard.py", "masking.py")
    ]
    files.append(REPO / "cdp/audit/views.py")
    for path in files:
        code = path.read_text()
        for role in roles:
            assert not re.search(rf"[\"']{role}[\"']", code), f"{path.name} names role {role}"
