"""The platform's recognizers, one module per entity type."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer

from cdp.pii.recognizers.address import AddressRecognizer
from cdp.pii.recognizers.bank_card import BankCardRecognizer
from cdp.pii.recognizers.email import EmailRecognizer
from cdp.pii.recognizers.health import HealthTermRecognizer
from cdp.pii.recognizers.ip import IpRecognizer
from cdp.pii.recognizers.passport import PassportRecognizer
from cdp.pii.recognizers.person_en import LatinPersonRecognizer
from cdp.pii.recognizers.person_zh import ChinesePersonRecognizer
from cdp.pii.recognizers.phone import PhoneRecognizer
from cdp.pii.recognizers.resident_id import ResidentIdRecognizer

RECOGNIZER_CLASSES = (
    PhoneRecognizer,
    ResidentIdRecognizer,
    BankCardRecognizer,
    PassportRecognizer,
    EmailRecognizer,
    IpRecognizer,
    AddressRecognizer,
    ChinesePersonRecognizer,
    LatinPersonRecognizer,
    HealthTermRecognizer,
)


def build_recognizers(languages: tuple[str, ...] = ("zh", "en")) -> list[EntityRecognizer]:
    """One instance of every recognizer per language (Presidio binds each to one)."""
    return [cls(lang) for lang in languages for cls in RECOGNIZER_CLASSES]
