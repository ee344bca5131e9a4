"""Chinese passport numbers (E + 8 digits, E + letter + 7 digits, older G/D/S/P + 8 digits).

The number has no public check digit, so the pattern alone scores below the reporting
threshold; a context word such as 护照 or passport nearby lifts it over (Presidio's
context enhancement, which works in Chinese because our NLP engine segments with jieba).
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from cdp.pii.entities import CN_PASSPORT
from cdp.pii.recognizers.base import CdpRecognizer, preceded_by_reference

_PATTERN = re.compile(
    r"(?<![0-9A-Za-z])(?:E\d{8}|E[A-HJ-NP-Z]\d{7}|[GDSP]\d{8})(?![0-9A-Za-z])"
)


class PassportRecognizer(CdpRecognizer):
    ENTITIES = (CN_PASSPORT,)
    CONTEXT = ("护照", "passport", "出入境", "旅行证件", "证件", "travel")

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results = []
        for m in _PATTERN.finditer(text):
            if preceded_by_reference(text, m.start()):
                continue
            score = 0.4 if m.group()[0] == "E" else 0.3
            results.append(self.result(CN_PASSPORT, m.start(), m.end(), score,
                                       "passport number pattern"))
        return results
