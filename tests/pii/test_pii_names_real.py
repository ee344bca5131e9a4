"""Person names in the styles real notes use (issues 15 and 20): the model and the rules
together, the scores policies threshold on, and the model loaded once per process."""

from __future__ import annotations

import pytest

from cdp.errors import ValidationError
from cdp.pii.policy import load_policy, parse_policy
from cdp.pii.redact import redact_for, redact_text
from cdp.pii.scan import candidates
from tests.pii.conftest import person_names

pytestmark = pytest.mark.usefixtures("analyzer")


names = person_names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("黄成阳咨询降压药的副作用", ["黄成阳"]),                 # a name opening the sentence
        ("张阿姨来取药", ["张阿姨"]),                              # honorific forms
        ("李总说明天再来", ["李总"]),
        ("王先生和他女儿王小丫一起来的", ["王先生", "王小丫"]),     # family words
        ("翻译约翰·史密斯陪同患者", ["约翰·史密斯"]),               # transliterated name
        ("客户Wang Xiaoming反馈药品破损", ["Wang Xiaoming"]),      # pinyin inside Chinese
        ("请联系Xiaoming Wang确认地址", ["Xiaoming Wang"]),
        ("我爸爸叫刘德明，今天住院了", ["刘德明"]),
        ("Please ask J. Smith to call back", ["J. Smith"]),        # initials
        ("Spoke with Jean-Luc Picard and Siobhan O'Brien today",   # hyphen, apostrophe
         ["Jean-Luc Picard", "Siobhan O'Brien"]),
        ("Regards,\nMARY JOHNSON", ["MARY JOHNSON"]),              # signature in capitals
        ("Attendees: Alice Walker, Bob Stone, Carol King",         # a list
         ["Alice Walker", "Bob Stone", "Carol King"]),
    ],
)
def test_names_found_in_every_style(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "口服二甲双胍，每日两次",
        "这张卡已经过期了",
        "客户说下周再来取药",          # 周 is a surname; 下周 is next week
        "The refill was delayed by the courier",
        "I bought English tea from Amazon",
        "Customer asked for an English invoice",
    ],
)
def test_ordinary_words_are_not_names(text: str) -> None:
    assert names(text, min_score=0.4) == []


def test_redacted_copies_carry_no_name_of_a_real_style_note() -> None:
    note = "黄成阳咨询降压药，王先生说张阿姨和Wang Xiaoming都来过，J. Smith也打过电话"
    for policy in ("storage", "redacted", "masked"):
        out = redact_for(note, policy)
        for name in ("黄成阳", "王先生", "张阿姨", "Wang Xiaoming", "J. Smith", "Smith"):
            assert name not in out, (policy, out)
    assert redact_text(note, "storage").text.startswith("<PERSON>咨询降压药")


def test_scores_order_evidence_and_policies_threshold_them() -> None:
    # rule and model agree > model alone with a surname > a weak unconfirmed candidate
    agree = [e for e in candidates("王先生来电") if e.type == "PERSON"]
    assert max(e.score for e in agree) >= 0.9
    text = "Contact: Rosalind"  # a given name alone, after a cue word
    single = [e for e in candidates(text) if e.type == "PERSON"]
    assert single and all(0.4 <= e.score < 0.95 for e in single)
    storage = load_policy("storage")
    assert storage.threshold_for("PERSON") == 0.4
    # a policy can ask for more certainty on one type than the rest
    strict = parse_policy("strict", {"min_score": 0.5, "default": {"operator": "replace"},
                                     "entities": {"PERSON": {"operator": "replace",
                                                             "min_score": 0.99}}})
    assert strict.threshold_for("PERSON") == 0.99 and strict.threshold_for("PHONE_NUMBER") == 0.5
    assert "min_score" not in strict.rule_for("PERSON")  # never passed to the operator
    assert names("王先生来电", min_score=0.99) == []


@pytest.mark.parametrize("bad", [0.1, 1.5, "high", True])
def test_policy_threshold_below_the_engine_floor_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError):
        parse_policy("bad", {"min_score": bad, "default": {"operator": "replace"}})


def test_model_loaded_once_per_process() -> None:
    from cdp.pii.models.lac import get_lac

    assert get_lac() is get_lac()
    spans = get_lac().spans("黄成阳咨询降压药", only=frozenset({"PER"}))
    assert [(s.start, s.end, s.label) for s in spans] == [(0, 3, "PER")]
    assert 0.0 < spans[0].confidence < 1.0
    # no person candidate anywhere: nothing decoded, nothing returned
    assert get_lac().spans("口服二甲双胍每日两次", only=frozenset({"PER"})) == []
