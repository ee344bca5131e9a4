"""Phone numbers, validated by libphonenumber (mainland mobile and landline, and others).

phonenumbers' own matcher finds numbers in every common layout (``13812345678``,
``138 1234 5678``, ``+86-138-1234-5678``, ``(010)62345678``, ``0755-8600 1234``...) and only
reports numbers that are valid for their region. We then drop what is not personal:
400/800 business hotlines (the company's own among them) and numbers introduced as an
order, waybill or batch reference.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import Leniency, PhoneNumber, PhoneNumberMatcher, PhoneNumberType
from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from cdp.pii.entities import PHONE_NUMBER
from cdp.pii.recognizers.base import CdpRecognizer, preceded_by_reference

_DIGIT_RUN = re.compile(r"\d[\d\s\-.()（）]{5,}\d")
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_BUSINESS_PREFIXES = ("400", "800")


class PhoneRecognizer(CdpRecognizer):
    """Valid phone numbers in any layout phonenumbers understands."""

    ENTITIES = (PHONE_NUMBER,)
    CONTEXT = ("电话", "手机", "联系", "致电", "来电", "号码", "tel", "phone", "mobile", "call",
               "contact", "reach", "cell")

    def __init__(self, supported_language: str) -> None:
        # Chinese notes mostly carry mainland numbers; English ones also North American.
        # (set before the base class's __init__, which calls load())
        self.regions = ("CN",) if supported_language == "zh" else ("CN", "US")
        super().__init__(supported_language)

    def load(self) -> None:
        # phonenumbers reads a region's metadata and compiles its patterns on first use:
        # with the engine, not in the middle of the first note that holds a number
        for region in self.regions:
            for match in PhoneNumberMatcher("13812345678, (212) 555-0147, 010-62345678",
                                            region, leniency=Leniency.VALID):
                phonenumbers.number_type(match.number)

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        # Cheap prefilter: no run of 7+ digits (allowing separators), no phone number.
        if not _DIGIT_RUN.search(text):
            return []
        found: dict[tuple[int, int], PhoneNumber] = {}
        for n, region in enumerate(self.regions):
            if n and not self._uncovered_digits(text, found):
                break  # a second region only matters for digit runs the first left over
            for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID,
                                            max_tries=200):
                span = (match.start, match.end)
                if not any(a < span[1] and span[0] < b for a, b in found):
                    found[span] = match.number
        results = []
        for (start, end), number in found.items():
            national = str(number.national_number)
            if number.country_code == 86 and national.startswith(_BUSINESS_PREFIXES):
                continue
            if preceded_by_reference(text, start) or _DOTTED_QUAD.fullmatch(text[start:end]):
                continue  # a reference number, or an IPv4 address read as digits
            mobile = phonenumbers.number_type(number) in _MOBILE_TYPES
            score = 0.75 if mobile else 0.6
            results.append(self.result(PHONE_NUMBER, start, end, score, "valid phone number"))
        return results

    @staticmethod
    def _uncovered_digits(text: str, found: dict) -> bool:
        return any(all(m.end() <= a or m.start() >= b for a, b in found)
                   for m in _DIGIT_RUN.finditer(text))
