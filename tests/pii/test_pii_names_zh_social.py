"""Chinese names as chat and social-media posts write them: @mentions, hashtags, emoji glued
to a name, 老X / 小X / 阿X forms, reposts; the span is the name, not the symbols or the
function word jieba glued to it."""

from __future__ import annotations

import pytest

from tests.pii.conftest import found, person_names

pytestmark = pytest.mark.usefixtures("analyzer")


def _names(text: str) -> list[str]:
    return person_names(text, 0.4)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("@张小凡 今天的直播太好看了😂😂", "张小凡"),
        ("#王俊凯生日快乐# 大家一起来祝福", "王俊凯"),
        ("转发微博 //@李雪琴: 笑死我了", "李雪琴"),
        ("谢谢亲爱的陈晓东老师，爱你❤️", "陈晓东"),
        ("周杰伦的新歌好好听[心][心]", "周杰伦"),
        ("张三丰@李四 快来看", "李四"),
        ("今天跟阿强一起打球，累死了", "阿强"),
        ("【转】杨幂和刘恺威离婚了？", "刘恺威"),
    ],
)
def test_social_media_names_found(text, name):
    assert name in _names(text)


def test_function_word_glued_to_a_name_is_not_redacted_with_it():
    # jieba reads 和老王 as one new word; the model's span (老王) sets the boundaries
    assert "老王" in _names("和老王去吃火锅了，小李也来了")
    assert "和老王" not in _names("和老王去吃火锅了，小李也来了")


def test_emoji_after_a_name_stays_outside_its_span():
    for span in _names("老公张伟今天给我买了花🌹"):
        assert "🌹" not in span


def test_conjunction_before_an_honorific_is_no_surname():
    # 和 is a surname too; 总统和夫人 is "the president and his wife"
    assert ("PERSON", "和夫人") not in found("叶利钦总统和夫人奈娜稳步走下舷梯")
