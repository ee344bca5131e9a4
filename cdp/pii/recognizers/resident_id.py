"""18-digit resident identity card numbers, validated with python-stdnum (ISO 7064 MOD 11-2).

A candidate must have a valid check character and a real, past birth date. A region code
python-stdnum knows raises the score; an unknown one (county codes change over the years)
still passes on the checksum and date, which chance alone satisfies once in ~3000 numbers.
"""

from __future__ import annotations

import datetime as dt
import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from cdp.pii.entities import CN_RESIDENT_ID
from cdp.pii.recognizers.base import CdpRecognizer, preceded_by_reference

# Contiguous, or written in the region / birth date / sequence groups (110105 19491231 002X).
_PATTERN = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}( ?)(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"\1\d{3}[0-9Xx](?![0-9A-Za-z])"
)


class ResidentIdRecognizer(CdpRecognizer):
    ENTITIES = (CN_RESIDENT_ID,)
    CONTEXT = ("身份证", "证件", "身份", "公民", "实名", "id", "identity", "resident")

    def load(self) -> None:
        ric.get_birth_place("110105194912310029")  # reads python-stdnum's region table once

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results = []
        for m in _PATTERN.finditer(text):
            number = m.group().replace(" ", "").upper()
            if number[-1] != ric.calc_check_digit(number):
                continue
            try:
                born = ric.get_birth_date(number)
            except ValidationError:
                continue
            if born > dt.date.today():
                continue
            try:
                ric.get_birth_place(number)
                score = 0.9
            except ValidationError:
                score = 0.75
            if preceded_by_reference(text, m.start()):
                continue
            results.append(self.result(CN_RESIDENT_ID, m.start(), m.end(), score,
                                       "resident ID with valid check digit and birth date"))
        return results
