"""Person names in Latin script (English text, or pinyin names inside Chinese text).

No NER model is available offline, so a capitalised word pair counts as a name only with
evidence: a title before it (Mr., Dr. ... — only the name is reported), a known given name
as its first word, a pinyin surname with a pinyin given name ("Wang Fang", "Xiaoming Li"), or
an introducing phrase ("my name is", "patient", "customer", "Dear", "Thanks,").
"""

from __future__ import annotations

import re

from cdp.pii.entities import PERSON
from cdp.pii.lexicon.names import EN_FIRST_NAMES, EN_TITLES, PINYIN_SURNAMES
from cdp.pii.recognizers.base import CdpRecognizer

_NAME = r"(?:[A-Z]'|Mc|Mac)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_TITLE = re.compile(r"(?<![A-Za-z])(?:" + "|".join(EN_TITLES) + r")\.?\s+(" + _NAME
                    + r"(?:\s+" + _NAME + r")?)")
_PAIR = re.compile(r"(?<![A-Za-z])(" + _NAME + r")\s+(" + _NAME + r")(?![A-Za-z])")
_CONTEXT = re.compile(
    r"(?:name is|name|i am|i'm|this is|patient|customer|client|holder|contact|dear|"
    r"thanks|regards|sincerely|from|signed by|signed|sent to|member|recipient|英文名|"
    r"cardholder|buyer|spoke with|spoke to|talked to|met with|called|caller|prescriber|"
    r"prescribed by|doctor|nurse|pharmacist|on duty|attn|by|for|with|to|cc)[:,]?\s*$",
    re.IGNORECASE,
)
# "Rhys Brennan here" / "Rhys Brennan (customer)": the name before a self-introducing word
_AFTER = re.compile(r"\s*(?:here\b|speaking\b|\((?:customer|patient|member)\))", re.IGNORECASE)
_SYLLABLE = (r"(?:(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
             r"(?:iang|iong|uang|ueng|ang|eng|ing|ong|ian|iao|uai|uan|van|ai|ei|ao|ou|an|en|er|"
             r"in|un|ia|ie|iu|ua|uo|ue|ui|ve|a|o|e|i|u|v))")
_PINYIN = re.compile(r"(?:" + _SYLLABLE + r"){1,3}")
# Capitalised words that start sentences or name things, never people.
_NOT_NAMES = frozenset("""
Street Road Avenue Drive Lane Boulevard Building Room District City Hospital Pharmacy Health
Please Thanks Thank Hello Dear Order Tracking Support Service Customer Patient Team Account
Login Alert Identity Check Our Your The This That Hi Batch Refund Refill Reminder Complaint
Consultation Note Pharmacist Ticket Card Visa Mastercard Monday Tuesday Wednesday Thursday
Friday Saturday Sunday January February March April May June July August September October
November December China Beijing Shanghai Shenzhen Park Market Main Oak Maple Sunset Elm Queen
Keyuan Jianguo Zhangjiang Tianfu Nanshan Chaoyang Pudong Wuhou Chengdu San Francisco Seattle
Boston Austin Chicago West East North South New Hong Kong Macau Taipei Guangzhou Hangzhou
Nanjing Wuhan Xiamen Suzhou Tianjin Chongqing Shenyang Harbin Kunming Xian Qingdao Dalian Road
Avenue Lane Tower Unit Flat Suite Apt District Province Washington London Singapore
""".split())


def _is_pinyin(word: str) -> bool:
    return _PINYIN.fullmatch(word.lower()) is not None


class LatinPersonRecognizer(CdpRecognizer):
    ENTITIES = (PERSON,)

    def analyze(self, text, entities, nlp_artifacts=None):
        if not re.search(r"[A-Z][a-z]", text):
            return []
        results = []
        pos = 0
        # search on from the end of the name reported, not of the match: "Mr. Smith Mr.
        # Jones" must not lose Jones to a match that ran into the second title
        while (m := _TITLE.search(text, pos)) is not None:
            pos = m.end()
            first, _, rest = m.group(1).partition(" ")
            end = m.end(1)
            if rest and (rest.strip() in _NOT_NAMES or rest.strip() in EN_TITLES):
                end = m.start(1) + len(first)
            pos = end
            if first in _NOT_NAMES:
                continue
            results.append(self.result(PERSON, m.start(1), end, 0.8, "name after title"))
        pos = 0
        while (m := _PAIR.search(text, pos)) is not None:
            # on a miss, retry from the second word: "Customer Robert Anderson"
            pos = m.start(2)
            a, b = m.group(1), m.group(2)
            if a in _NOT_NAMES or b in _NOT_NAMES:
                continue
            if a in EN_FIRST_NAMES:
                score, why = 0.75, "known given name"
            elif (a in PINYIN_SURNAMES and _is_pinyin(b)) or (b in PINYIN_SURNAMES
                                                              and _is_pinyin(a)):
                score, why = 0.7, "pinyin name"
            elif _CONTEXT.search(text, max(0, m.start() - 20), m.start()):
                score, why = 0.7, "name after introducing phrase"
            elif _AFTER.match(text, m.end()):
                score, why = 0.7, "name before self-introduction"
            else:
                continue
            results.append(self.result(PERSON, m.start(), m.end(), score, why))
            pos = m.end()
        return results
