"""Bank card numbers: a real issuer prefix and length, and a valid Luhn check digit."""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from stdnum import luhn

from cdp.pii.entities import BANK_CARD
from cdp.pii.recognizers.base import CdpRecognizer, preceded_by_reference

# Contiguous 13-19 digits, or the grouped layouts printed on cards (4-4-4-4[-3], 6-7-6 for
# 19-digit UnionPay, 4-6-5 for Amex). Quantifiers are bounded and alternatives are
# anchored on digit boundaries, so a megabyte of digits cannot make the regex backtrack.
_PATTERN = re.compile(
    r"(?<!\d)(?<!\d\.)(?:"
    r"\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?"
    r"|\d{6} \d{7} \d{6}"
    r"|\d{4} \d{6} \d{5}"
    r"|\d{13,19}"
    r")(?!\.?\d)"
)

# (prefix range low, high, allowed lengths) by brand: UnionPay, Visa, Mastercard, Amex,
# JCB, Discover, Diners.
_ISSUERS: tuple[tuple[int, int, int, frozenset[int]], ...] = (
    (62, 62, 2, frozenset(range(16, 20))),
    (4, 4, 1, frozenset({13, 16, 19})),
    (51, 55, 2, frozenset({16})),
    (2221, 2720, 4, frozenset({16})),
    (34, 34, 2, frozenset({15})),
    (37, 37, 2, frozenset({15})),
    (3528, 3589, 4, frozenset(range(16, 20))),
    (6011, 6011, 4, frozenset(range(16, 20))),
    (644, 649, 3, frozenset(range(16, 20))),
    (65, 65, 2, frozenset(range(16, 20))),
    (300, 305, 3, frozenset(range(14, 20))),
    (36, 36, 2, frozenset(range(14, 20))),
    (38, 39, 2, frozenset(range(16, 20))),
)


def issuer_known(number: str) -> bool:
    """True when the digits start with a real card brand's prefix and have its length."""
    for low, high, width, lengths in _ISSUERS:
        if len(number) in lengths and low <= int(number[:width]) <= high:
            return True
    return False


class BankCardRecognizer(CdpRecognizer):
    ENTITIES = (BANK_CARD,)
    CONTEXT = ("银行卡", "卡号", "信用卡", "储蓄卡", "借记卡", "银联", "持卡人", "退款", "card",
               "visa", "mastercard", "unionpay", "credit", "debit", "refund")

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results = []
        for m in _PATTERN.finditer(text):
            number = re.sub(r"[ -]", "", m.group())
            if not issuer_known(number) or not luhn.is_valid(number):
                continue
            if preceded_by_reference(text, m.start()):
                continue
            results.append(self.result(BANK_CARD, m.start(), m.end(), 0.8,
                                       "card number with issuer prefix and Luhn check"))
        return results
