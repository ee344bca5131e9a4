"""English person names in the forms issue 20 lists: running text, lists, signatures,
initials, hyphens and apostrophes, capitals, romanised Chinese names; and the capitalised
words that are not names."""

from __future__ import annotations

import pytest

from tests.pii.conftest import person_names

pytestmark = pytest.mark.usefixtures("analyzer")


def names(text: str, min_score: float = 0.5) -> list[str]:
    return person_names(text, min_score, "en")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # running text
        ("I spoke with Sarah Connor yesterday about her refill.", ["Sarah Connor"]),
        ("The Prime Minister, Boris Johnson, met Angela Merkel in Berlin on Monday.",
         ["Boris Johnson", "Angela Merkel"]),
        ("Police said the man, named as Tomasz Kowalski, 34, was arrested.",
         ["Tomasz Kowalski"]),
        # lists
        ("Attendees: Mary Jones, Peter Brown, Li Wei, Ahmed Khan.",
         ["Mary Jones", "Peter Brown", "Li Wei", "Ahmed Khan"]),
        # signatures
        ("Thanks for your help.\n\nBest regards,\nJean-Luc Picard\nHead of Operations",
         ["Jean-Luc Picard"]),
        # initials, apostrophes (O'Brien is listed as Obrien), hyphens
        ("Please forward to J. Smith and K. O'Brien before Friday.", ["J. Smith", "K. O'Brien"]),
        ("Seamus O'Brien called about the order.", ["Seamus O'Brien"]),
        ("Jean-Luc said the delivery to Washington Street was late.", ["Jean-Luc"]),
        # capitals, after a label
        ("PATIENT NAME: MARY JOHNSON", ["MARY JOHNSON"]),
        # romanised Chinese names, either order
        ("Wang Xiaoming and Xiaoming Wang both ordered insulin.",
         ["Wang Xiaoming", "Xiaoming Wang"]),
        ("Our customer Zhang Wei lives in London.", ["Zhang Wei"]),
    ],
)
def test_english_names_in_every_form(text: str, expected: list[str]) -> None:
    assert names(text) == expected


def test_storage_threshold_keeps_surnames_after_a_role_word() -> None:
    assert names("Dr. Chen prescribed it; nurse Patel confirmed.", 0.4) == ["Chen", "Patel"]


@pytest.mark.parametrize(
    "text",
    [
        "Hope you are well. Will you call me back?",      # given names used as verbs
        "Mark the date: the pharmacy closes early.",
        "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT .",   # a headline in capitals
        "URGENT: PLEASE CALL BACK ABOUT THE ORDER",
    ],
)
def test_capitalised_words_that_are_not_names(text: str) -> None:
    assert names(text, min_score=0.4) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # roles and epithets before a name are cut off, and cue it
        ("President Bill Clinton met Russian Prime Minister Viktor Chernomyrdin.",
         ["Bill Clinton", "Viktor Chernomyrdin"]),
        ("Uzbek striker Igor Shkvyrin took advantage of a misdirected header.",
         ["Igor Shkvyrin"]),
        # names in no English list, made of words English never uses otherwise
        ("Takuya Takagi scored the winner in the 88th minute.", ["Takuya Takagi"]),
        ("Pakistan 's Wasim Akram took four wickets.", ["Wasim Akram"]),
    ],
)
def test_names_in_news_style_sentences(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Sri Lanka beat Costa Rica in the final.",                  # countries
        "Japan began the defence of their Asian Cup title.",        # everyday words
        "The deadline for the Sage Award is November 5.",
        "She reads Political Wire every morning.",
    ],
)
def test_places_and_everyday_phrases_are_not_names(text: str) -> None:
    assert names(text, min_score=0.4) == []
