"""Postal addresses as ``LOCATION``: administrative units, a road or estate, a number.

Chinese addresses are matched from a word jieba tags as a place name (``ns``) or that ends
in an administrative suffix (省/市/区/县...), so the match starts on a word boundary and
never swallows the words before it ("收货地址为北京市..."); they must then run through a
road (路/街/大道...) or an estate (小区/花园...) and a number. English addresses need a
house number, a street type and optionally unit, district/city, state and ZIP.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from cdp.pii.entities import LOCATION
from cdp.pii.recognizers._tokens import tokens_of
from cdp.pii.recognizers.base import CdpRecognizer

_H = r"[\u4e00-\u9fff]"
_ADMIN = _H + r"{1,7}?(?:特别行政区|自治区|自治州|省|市|地区|盟|区|县|旗|镇|乡|街道)"
_ROAD = r"[\u4e00-\u9fff0-9A-Za-z]{1,10}?(?:大道|大街|胡同|路|街|巷|弄|道)"
_ESTATE = _H + r"{1,8}?(?:小区|花园|家园|公寓|大厦|广场|苑|村|园|城|里)"
_NUM = r"[0-9０-９]{1,5}(?:号院|号|弄|栋|幢)"
_TAIL = _H + r"{0,8}?[0-9０-９]{1,5}(?:号楼|栋|幢|座|单元|室|层|楼|号|户)?"
_ZH_ADDRESS = re.compile(
    rf"(?:{_ADMIN}){{1,4}}(?:{_ROAD}(?:{_NUM})?|{_ESTATE}(?=[0-9０-９]))(?:{_TAIL}){{0,4}}"
)
_ADMIN_END = re.compile(r"(?:省|市|区|县|自治区|州)$")

_STREET_TYPES = (r"(?:Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|Boulevard|Blvd\.?|Drive|Dr\.?|"
                 r"Lane|Ln\.?|Way|Court|Ct\.?|Place|Pl\.?|Highway|Hwy\.?|Terrace|Square|Crescent|"
                 r"Close|Parkway)")
_CAP = r"[A-Z][A-Za-z']+"
# A place word has a lower-case second letter, so a two-letter state ("CA") is left for the
# state-and-ZIP group.
_PLACE = r"[A-Z][a-z][A-Za-z']*"
_EN_ADDRESS = re.compile(
    r"(?<![\w])(?:(?:Room|Rm\.?|Flat|Unit|Suite|Apt\.?)\s*\d{1,5}[A-Z]?,\s*)?"
    r"(?:(?:Building|Bldg\.?|Block|Tower)\s*\d{1,4}[A-Z]?,\s*)?"
    rf"\d{{1,5}}[A-Z]?\s+(?:[NSEW]\.?\s+)?(?:(?:{_CAP}|\d{{1,3}}(?:st|nd|rd|th))\s+){{0,3}}"
    rf"{_STREET_TYPES}(?:\s+(?:NW|NE|SW|SE)\b)?"
    r"(?:,?\s*(?:Apt\.?|Apartment|Suite|Unit|Room|#)\s*\d{1,5}[A-Z]?)?"
    rf"(?:,\s*{_PLACE}(?:\s+{_PLACE}){{0,2}}){{0,3}}"
    # a US state and ZIP, a two-letter district (DC), or a UK postcode
    r"(?:,?\s+(?:[A-Z]{2}\s+\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}))?"
)


class AddressRecognizer(CdpRecognizer):
    ENTITIES = (LOCATION,)
    CONTEXT = ("地址", "住址", "收货", "送到", "寄到", "address", "deliver", "ship")

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results = []
        if re.search(_H, text):
            covered = -1
            for tok in tokens_of(nlp_artifacts):
                if tok.start < covered:
                    continue
                if tok.tag != "ns" and not _ADMIN_END.search(tok.text):
                    continue
                m = _ZH_ADDRESS.match(text, tok.start)
                if m:
                    covered = m.end()
                    results.append(self.result(LOCATION, m.start(), m.end(), 0.75,
                                               "structured Chinese address"))
        if re.search(r"\d\s+[A-Z]", text):
            for m in _EN_ADDRESS.finditer(text):
                results.append(self.result(LOCATION, m.start(), m.end(), 0.7,
                                           "structured street address"))
        return results
