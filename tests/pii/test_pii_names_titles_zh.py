"""Titles and roles in Chinese notes: a rarer Hundred-Family surname before a title is a
name (阙经理, 计先生), a function word before a title is not (经医生诊断); a role word is
never a name (a transcript's speaker label 顾客：, 师姐); Latin names as Chinese notes write
them (Wong先生, a given name alone among Chinese words). Written for issue 15, with sentences
of our own (not from the held-apart sets)."""

from __future__ import annotations

import pytest

from tests.pii.conftest import person_names

pytestmark = pytest.mark.usefixtures("analyzer")


_names = person_names


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("请联系阙经理确认发票抬头。", "阙经理"),
        ("计先生来电询问降压药库存。", "计先生"),
        ("芮先生的订单已经发货了。", "芮先生"),
        ("李总让我问一下口罩的库存。", "李总"),
        ("Wong先生来电咨询维生素D的用法。", "Wong"),
        ("请转告Patel 女士，处方已审核。", "Patel"),
        ("Sophia（交换生）想买感冒药。", "Sophia"),
    ],
)
def test_titled_and_latin_names_found(text, name):
    assert name in _names(text)


@pytest.mark.parametrize(
    "text",
    [
        "客服：您好，请问有什么可以帮您？顾客：我想退货。客服：好的。",
        "经医生诊断为高血压，从医生那里拿了处方。",
        "空姐和师姐都推荐这款润喉糖。",
        "我买了Swisse的鱼油，Centrum也不错。",
    ],
)
def test_roles_function_words_and_brands_are_not_names(text):
    assert _names(text, min_score=0.4) == []
