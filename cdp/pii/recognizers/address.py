"""Postal addresses as ``LOCATION``: administrative units, a road or estate, a number.

Chinese addresses start on a jieba word boundary (so the match never swallows the words
before it, "收货地址为北京市..."), in one of three ways:

* a known division from the list shipped in ``cpca`` (:mod:`cdp.pii.lexicon.divisions`):
  广东省, 深圳市, 南山区, or a province's or city's short form (广东, 深圳, 香港), then more
  divisions, a road or estate and a house number (score 0.85);
* a word jieba tags as a place (``ns``) or that ends in an administrative suffix
  (省/市/区/县...), then a road or estate (0.75);
* a road and a house number alone (科技园南路18号3栋201室): the road's name is the nouns
  just before its suffix, stopping at a verb or preposition (0.6; a context word such as
  地址 or 寄到 raises it).

A building, estate or campus named after the number (文三路90号东部软件园) is part of the
address. English addresses need a house number, a street type and optionally unit,
district/city, state and ZIP or UK postcode.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from cdp.pii.entities import LOCATION
from cdp.pii.recognizers._tokens import Tok, tokens_of, trie_regex
from cdp.pii.recognizers.base import CdpRecognizer

_H = r"[\u4e00-\u9fff]"
_ADMIN = _H + r"{1,7}?(?:特别行政区|自治区|自治州|省|市|地区|盟|区|县|旗|镇|乡|街道)"
_ROAD = r"[\u4e00-\u9fff0-9A-Za-z]{1,10}?(?:大道|大街|胡同|路|街|巷|弄|道)"
_ESTATE = _H + r"{1,8}?(?:小区|花园|家园|公寓|大厦|广场|苑|村|园|城|里)"
_NUM = r"[0-9０-９]{1,5}(?:号院|号|弄|栋|幢)"
_TAIL = _H + r"{0,8}?[0-9０-９]{1,5}(?:号楼|栋|幢|座|单元|室|层|楼|号|户)?"
# A building, estate or campus named after the number (文三路90号东部软件园): its name
# holds no function word, so the match does not run on into the sentence.
_NAMED = (r"(?:(?![的了是在我你他她吗呢吧和与就也都请把到给让被从向往收寄送])" + _H
          + r"){1,8}?(?:软件园|科技园|产业园|工业园|广场|大厦|中心|小区|花园|公寓|大学|学院|医院|"
          r"酒店|商场|苑|园|汇|城|座)")
_STREET = (rf"(?:{_ROAD}(?:{_NUM})?|{_ESTATE}(?=[0-9０-９]))(?:{_TAIL}){{0,4}}"
           rf"(?:{_NAMED}(?:{_TAIL}){{0,3}})?")
# After known divisions, a house number is required: a division's short form followed by a
# road is often a road's or a landmark's own name (南京路步行街), not somebody's address.
_NUMBERED_STREET = (rf"(?:{_ROAD}{_NUM}|{_ESTATE}(?=[0-9０-９]))(?:{_TAIL}){{0,4}}"
                    rf"(?:{_NAMED}(?:{_TAIL}){{0,3}})?")
_ADMIN_END = re.compile(r"(?:省|市|区|县|自治区|州)$")
# A road and house number with no division before it (科技园南路18号3栋201室): the road's
# name is the jieba words just before its suffix.
_ROAD_NUMBER = re.compile(r"(?:大道|大街|胡同|路|街|巷)(?=[0-9０-９]{1,5}(?:号院|号|弄))")
_ROAD_REST = re.compile(rf"[0-9０-９]{{1,5}}(?:号院|号|弄)(?:{_TAIL}){{0,4}}(?:{_NAMED}(?:{_TAIL}){{0,3}})?")
# Words that end a road's name on its left: a verb, preposition or pronoun is no part of it.
_ROAD_NAME_TAGS = frozenset({"n", "ns", "nz", "nt", "nw", "nr", "f", "s", "m", "j", "an", "l"})
_NAME_WORD = re.compile(r"[\u4e00-\u9fff0-9A-Za-z]+")
_ROAD_NAME_STOP = frozenset("地址 住址 收货 寄到 送到 住在 在 到 往 寄 送 是 为 我 的 了 从 去 来".split())

_zh_address: tuple[re.Pattern[str], re.Pattern[str], frozenset[str]] | None = None


def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], frozenset[str]]:
    """(an address opening with known divisions, one opening with any admin-suffixed words,
    the characters a known division starts with), built on first use."""
    global _zh_address
    if _zh_address is None:
        from cdp.pii.lexicon.divisions import division_names

        names = division_names()
        division = trie_regex(names)
        known = re.compile(rf"(?:{division})(?:{division}|{_ADMIN}){{0,3}}{_NUMBERED_STREET}")
        generic = re.compile(rf"(?:{_ADMIN}){{1,4}}{_STREET}")
        _zh_address = (known, generic, frozenset(n[0] for n in names))
    return _zh_address


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

    def load(self) -> None:
        # the division regex takes a good part of a second to compile: with the engine, not
        # in the middle of the first Chinese note
        _patterns()

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results = []
        if re.search(_H, text):
            results.extend(self._chinese(text, tokens_of(nlp_artifacts)))
        if re.search(r"\d[A-Z]?\s+[A-Z]", text):
            for m in _EN_ADDRESS.finditer(text):
                results.append(self.result(LOCATION, m.start(), m.end(), 0.7,
                                           "structured street address"))
        return results

    def _chinese(self, text: str, toks: list[Tok]) -> list[RecognizerResult]:
        known, generic, firsts = _patterns()
        results = []
        covered = -1
        for tok in toks:
            if tok.start < covered:
                continue
            # an address opening with a known division (广东省, 深圳, 朝阳区)
            m = known.match(text, tok.start) if tok.text[0] in firsts else None
            if m:
                covered = m.end()
                results.append(self.result(LOCATION, m.start(), m.end(), 0.85,
                                           "Chinese address with known divisions"))
                continue
            if tok.tag != "ns" and not _ADMIN_END.search(tok.text):
                continue
            m = generic.match(text, tok.start)
            if m:
                covered = m.end()
                results.append(self.result(LOCATION, m.start(), m.end(), 0.75,
                                           "structured Chinese address"))
        # a road and a house number alone (科技园南路18号3栋201室)
        for m in _ROAD_NUMBER.finditer(text):
            if m.start() < covered or any(r.start <= m.start() < r.end for r in results):
                continue
            if _ordinary_word_at(toks, m.end()):
                continue
            start = _road_name_start(toks, m.start())
            if start is None:
                continue
            rest = _ROAD_REST.match(text, m.end())
            if rest:
                results.append(self.result(LOCATION, start, rest.end(), 0.6,
                                           "road and house number"))
        return results


def _ordinary_word_at(toks: list[Tok], suffix_end: int) -> bool:
    """Whether the road suffix ending at ``suffix_end`` is the end of an ordinary two-character
    word (线路, 思路, 电路, 出路, 一路) rather than of a road's name (南路, 建国路, 学府路)."""
    for tok in toks:
        if tok.end == suffix_end and tok.start < suffix_end:
            return (len(tok.text) == 2 and tok.tag not in ("ns", "nz", "nw")
                    and tok.text[0] not in "东南西北中")
    return False


def _road_name_start(toks: list[Tok], suffix_at: int) -> int | None:
    """Where the road's name begins: the nouns just before its suffix (at most 10 characters),
    stopping at a verb, preposition, pronoun or punctuation; None when there is no name."""
    start = None
    for tok in reversed(toks):
        if tok.start >= suffix_at:
            continue
        if tok.end > suffix_at:
            # the suffix glued to the name's last word (南路)
            start = tok.start
            continue
        if (tok.text in _ROAD_NAME_STOP or tok.tag not in _ROAD_NAME_TAGS
                or _NAME_WORD.fullmatch(tok.text) is None or suffix_at - tok.start > 10):
            break
        start = tok.start
    return start
