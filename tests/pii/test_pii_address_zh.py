"""Chinese street addresses as LOCATION: divisions from the shipped division list (with or
without their suffix), a road and house number alone, buildings named after the number;
and the look-alikes that are places but no one's address."""

from __future__ import annotations

import pytest

from cdp.pii.lexicon.divisions import division_names
from cdp.pii.redact import redact_for, redact_text
from tests.pii.conftest import found

pytestmark = pytest.mark.usefixtures("analyzer")


def test_division_list_has_every_level_and_the_short_forms():
    names = division_names()
    # province, prefecture, district; short forms of the first two only
    assert {"广东省", "广东", "深圳市", "深圳", "南山区", "广西", "新疆", "内蒙古"} <= names
    assert "南山" not in names and "鼓楼" not in names and "海淀" not in names
    assert "市辖区" not in names
    assert len(names) > 3000


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("我的地址是广东省深圳市南山区科技园南路18号3栋201室，谢谢",
         "广东省深圳市南山区科技园南路18号3栋201室"),
        ("寄到北京市朝阳区建国路88号", "北京市朝阳区建国路88号"),
        # short forms of a province and a city, no suffix at all
        ("浙江杭州西湖区文三路90号东部软件园", "浙江杭州西湖区文三路90号东部软件园"),
        ("香港九龙弥敦道100号", "香港九龙弥敦道100号"),
        ("重庆渝中区解放碑民族路188号", "重庆渝中区解放碑民族路188号"),
        # a building or campus named after the number belongs to the address
        ("湖南省长沙市岳麓区麓山南路932号中南大学", "湖南省长沙市岳麓区麓山南路932号中南大学"),
        ("广州天河区天河路385号太古汇，明天到", "广州天河区天河路385号太古汇"),
        # a road and house number with no division before them
        ("地址：科技园南路18号3栋201室", "科技园南路18号3栋201室"),
        ("快递放到中山北路30号门卫", "中山北路30号"),
        ("新疆维吾尔自治区乌鲁木齐市天山区解放北路100号", "新疆维吾尔自治区乌鲁木齐市天山区解放北路100号"),
    ],
)
def test_street_addresses_found_whole(text, address):
    assert ("LOCATION", address) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "他去了北京出差，下周回上海。",            # cities alone
        "我们在南京路步行街逛了一下午",            # a short-form city naming a road, no number
        "这条路5号线地铁很挤",                     # a measure word before 路, a metro line
        "深圳市南山区的天气不错",                  # divisions without a street
        "第3号药品在广东生产",
        "网络线路1号机房故障",                     # ordinary words ending in 路
        "这条思路3号方案更好",
        "电路2号板坏了",
        "一路12号选手加油",
    ],
)
def test_places_that_are_no_address_left_alone(text):
    assert [v for t, v in found(text) if t == "LOCATION"] == []


def test_road_name_stops_at_the_verb_before_it():
    # 寄到 is no part of the road's name: the span starts at the road
    assert ("LOCATION", "建国路88号") in found("麻烦寄到建国路88号")


def test_english_house_number_with_a_letter():
    assert ("LOCATION", "221B Baker Street, London NW1 6XE") in found(
        "I live at 221B Baker Street, London NW1 6XE")


def test_address_redacted_at_rest_and_in_views():
    text = "收件人电话13812345678，地址：科技园南路18号3栋201室，放门卫"
    stored = redact_text(text, "storage").text
    assert "科技园南路" not in stored and "201室" not in stored
    for policy in ("redacted", "masked", "pharmacy_care"):
        shown = redact_for(text, policy)
        assert "科技园南路18号" not in shown, policy
