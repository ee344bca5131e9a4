"""The labelled corpora the benchmark scores against: deterministic and exactly labelled."""

from __future__ import annotations

import json

import pytest

from scripts.pii_corpus import generate
from scripts.pii_corpus_heldout import generate_heldout
from scripts.pii_corpus_unseen import generate_unseen

TYPES = {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "CN_RESIDENT_ID", "CN_PASSPORT",
         "BANK_CARD", "LOCATION", "IP_ADDRESS", "HEALTH_TERM"}


@pytest.mark.parametrize("gen", [generate, generate_heldout, generate_unseen],
                         ids=["main", "heldout", "unseen"])
def test_corpus_is_deterministic_and_spans_are_exact(gen):
    a = [json.dumps(s.__dict__, ensure_ascii=False) for s in gen(300, 5)]
    b = [json.dumps(s.__dict__, ensure_ascii=False) for s in gen(300, 5)]
    c = [json.dumps(s.__dict__, ensure_ascii=False) for s in gen(300, 6)]
    assert a == b and a != c
    langs = set()
    for s in gen(300, 5):
        langs.add(s.language)
        last_end = 0
        for e in s.entities:
            assert e["type"] in TYPES
            assert last_end <= e["start"] < e["end"] <= len(s.text)
            surface = s.text[e["start"] : e["end"]]
            assert surface == surface.strip() and surface
            last_end = e["end"]
    assert langs == {"zh", "en"}


def test_generated_identifiers_are_valid():
    """Labelled IDs and cards pass their own check digits (python-stdnum), so a recognizer
    that validates them is not penalised for the corpus's mistakes."""
    from stdnum import luhn
    from stdnum.cn import ric

    for gen in (generate, generate_heldout, generate_unseen):
        for s in gen(400, 3):
            for e in s.entities:
                value = s.text[e["start"] : e["end"]].replace(" ", "").replace("-", "")
                if e["type"] == "CN_RESIDENT_ID":
                    # check character and birth date (stdnum's region table lags new
                    # county codes, so is_valid() is stricter than reality)
                    value = value.upper()
                    assert ric.calc_check_digit(value) == value[-1]
                    assert ric.get_birth_date(value)
                elif e["type"] == "BANK_CARD":
                    assert luhn.is_valid(value)
