"""Person names in Latin script (English text, or pinyin names inside Chinese text).

Two layers. The rules: a capitalised word pair counts as a name with evidence — a title
before it (Mr., Dr. ... — only the name is reported), a known given name as its first word, a
pinyin surname with a pinyin given name ("Wang Fang", "Xiaoming Li"), or an introducing
phrase ("my name is", "patient", "customer", "Dear", "Thanks,").

The recall layer scores every run of capitalised words (with initials, hyphens, apostrophes,
``O'Brien``, ``Jean-Luc``, ``J. Smith``, names in capitals) against the US Census given-name and
surname frequency lists (:mod:`cdp.pii.lexicon.census_names`), the run's shape (one word or
several, at a sentence start or not, a word the text also uses in lower case), the words
around it ("said", "told", "according to", a title), how common its words are in ordinary
English (:mod:`cdp.pii.lexicon.en_wordfreq`: "Asian Cup" is made of everyday words, "Takuya
Takagi" of words English never uses but as names) and whether it is a country or language
name (:mod:`cdp.pii.lexicon.en_places`). Everyday words opening a run are roles and epithets
("Russian Prime Minister Viktor Chernomyrdin"): they are cut off and cue the name. The score
is what a policy's threshold reads: storage redaction keeps weaker candidates, display shows
only the surer ones.

No statistical English NER runs here: the only English pipeline on the package registry is a
third-party republication whose NER weights could not be verified against the official release
(``scripts/pii_eval/check_spacy_republication.py``).
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from cdp.pii.entities import PERSON
from cdp.pii.lexicon.census_names import given_names, surnames
from cdp.pii.lexicon.en_places import place_names
from cdp.pii.lexicon.en_wordfreq import zipf
from cdp.pii.lexicon.names import EN_FIRST_NAMES, EN_TITLES, PINYIN_SURNAMES
from cdp.pii.recognizers.base import CdpRecognizer

_NAME = r"(?:[A-Z]'|Mc|Mac)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_TITLE = re.compile(r"(?<![A-Za-z])(?:" + "|".join(EN_TITLES) + r")(?:\.\s*|\s+)(" + _NAME
                    + r"(?:\s+" + _NAME + r")?)")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_BEFORE_ZH_TITLE = re.compile(r"(?<![A-Za-z])(" + _NAME + r"(?: " + _NAME + r")?) ?"
                              r"(?=先生|女士|小姐|太太|夫人|老师|医生|大夫|同学|经理|总|酱|姐|哥|妈妈|爸爸)")
# WeChat-style handles: two capitalised words joined by an underscore
# (an @ may come before it, as in a mention, but not an address's user part: a@Kiki_Zhou)
_HANDLE = re.compile(r"(?<![A-Za-z0-9_.#/-])(?<![A-Za-z0-9]@)([A-Z][a-z]+)[_-]([A-Z][a-z]+)"
                     r"(?![A-Za-z0-9_@])")
# a known given name with a number to make a handle unique: Grace_1127, Emma2019
_GIVEN_HANDLE = re.compile(r"(?<![A-Za-z0-9_.#/-])(?<![A-Za-z0-9]@)([A-Z][a-z]+)_?\d{2,}"
                           r"(?![A-Za-z0-9_@])")
_AFTER_ZH_CONTEXT = re.compile(
    r"(?:收件人|收货人|签收人|联系人|客服|顾客|患者|客户|用户|会员|我叫|我是|名字|英文名|"
    r"微信名|昵称|药师|医生|护士|朋友|闺蜜|同学|同事)(?:写|是|叫|为)?[：:\s]*"
    r"([A-Z][a-z]+(?:[ _][A-Z][a-z]+)?)(?![A-Za-z0-9_@])")
# a Latin name in lower case and in one word, right after a Chinese word that introduces a
# person: a pinyin name (收件人写zhangmin, 跟liuyang同一个地址) or, after a naming word, a
# nickname (我叫koko, 昵称momo)
_LOWER_AFTER_ZH_CONTEXT = re.compile(
    r"(收件人|收货人|签收人|联系人|我叫|我是|英文名|微信号|微信名|昵称|名字|叫|跟|和|找|给|帮|问下)"
    r"(?:写|是|叫|为)?[：:\s]*([a-z]{3,14}|[a-z]{2,10}_[a-z]{2,10})(?![A-Za-z0-9_@.])")
_NAMING_WORDS = frozenset("收件人 收货人 签收人 联系人 我叫 我是 英文名 微信号 微信名 昵称 名字 叫".split())
# pinyin written for ordinary words in chat (xiexie, haode), not for names
_PINYIN_WORDS = frozenset(
    "xiexie haode nihao mama baba gege jiejie meimei didi baobao laogong laopo shenme zenme "
    "meiyou keyi haha hehe heihei duibuqi mingtian jintian zuotian houtian kuaidi dizhi dianhua "
    "shouji yaodian yiyuan yisheng kefu xiansheng nvshi xiaojie laoshi pengyou tongshi "
    "wanshang zaoshang xiawu shangwu".split()
)
_LOWER_PINYIN_PAIR = re.compile(r"(?<![A-Za-z0-9_@.])([a-z]{1,6}) ([a-z]{1,6})(?![A-Za-z0-9_@])")
_LONE_WORD = re.compile(r"(?<![A-Za-z0-9_@#/.&'-])[A-Z][a-z]{2,}(?![A-Za-z0-9_@'-])")
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


_STOP = frozenset(
    "a an the and or but if of to in on at for by with from is are was were be been it its this "
    "that these those i you he she we they me my your our his her their them us am do does did "
    "not no so as up down out over under about after before all any some each every more most "
    "other such only own same than too very can will just should now here there when where why "
    "how what which who whom whose while during into through again further then once also may "
    "might must shall would could per via get got new".split()
)


def _is_pinyin(word: str) -> bool:
    return _PINYIN.fullmatch(word.lower()) is not None


_GIVEN_PINYIN = re.compile(r"(?:" + _SYLLABLE + r"){1,2}")
_LOWER_SURNAMES = tuple(sorted((s.lower() for s in PINYIN_SURNAMES), key=len, reverse=True))


def _in_a_latin_run(text: str, start: int, end: int) -> bool:
    """Whether another Latin word sits right before or after [start, end), a space apart."""
    before = text[max(0, start - 2) : start]
    after = text[end : end + 2]
    return ((len(before) == 2 and before[1] == " " and before[0].isascii() and before[0].isalpha())
            or (len(after) == 2 and after[0] == " " and after[1].isascii() and after[1].isalpha()))


def pinyin_full_name(word: str) -> bool:
    """A pinyin surname and one or two syllables of a given name, run together (zhangmin,
    ouyangxue)."""
    return word not in _PINYIN_WORDS and any(
        word.startswith(s) and _GIVEN_PINYIN.fullmatch(word, len(s)) is not None
        for s in _LOWER_SURNAMES if len(word) > len(s))


class LatinPersonRecognizer(CdpRecognizer):
    ENTITIES = (PERSON,)

    def load(self) -> None:
        # the lists load with the engine (once per process, before its objects are frozen),
        # not in the middle of the first English note
        given_names(), surnames(), place_names(), zipf("a")

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if not re.search(r"[A-Z][a-z]|[A-Z]{2}", text):
            # a pinyin name in lower case inside a Chinese note (收件人写zhang xin)
            return self._lower_pinyin(text) if _CJK.search(text) else []
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
        for start, end, score, why in capitalised_runs(text):
            results.append(self.result(PERSON, start, end, score, why))
        if _CJK.search(text):
            results.extend(self._in_chinese_text(text))
        return results

    def _lower_pinyin(self, text: str) -> list[RecognizerResult]:
        out = []
        for m in _LOWER_PINYIN_PAIR.finditer(text):
            a, b = m.group(1), m.group(2)
            if _in_a_latin_run(text, m.start(), m.end()):
                continue  # wo xiang wen yi xia: a sentence typed in pinyin, not a name
            if a.capitalize() in PINYIN_SURNAMES and _is_pinyin(b) and b not in _STOP:
                out.append(self.result(PERSON, m.start(), m.end(), 0.6,
                                       "pinyin name in Chinese text"))
        for m in _LOWER_AFTER_ZH_CONTEXT.finditer(text):
            context, word = m.group(1), m.group(2)
            if pinyin_full_name(word):
                out.append(self.result(PERSON, m.start(2), m.end(2), 0.6,
                                       "pinyin name in Chinese text"))
            elif (context in _NAMING_WORDS and word not in _PINYIN_WORDS
                  and word not in _STOP and (zipf(word) == 0.0 or "_" in word)):
                # 我叫koko: a nickname; 我是new, 昵称test: English words, not names
                out.append(self.result(PERSON, m.start(2), m.end(2), 0.55,
                                       "Latin nickname after a Chinese naming word"))
        return out

    def _in_chinese_text(self, text: str) -> list[RecognizerResult]:
        """Latin names as Chinese notes write them: before a Chinese title (Wong 先生,
        Patel先生), or a known given name standing alone among Chinese words (Olivia（留学生）,
        Tom和Jerry), which English text would need more evidence for; a messaging handle of
        two capitalised words (Cindy_Huang); any Latin name right after a Chinese word that
        introduces one (收件人Nurlan, 客服Coco); a pinyin name in lower case (zhang xin)."""
        out = self._lower_pinyin(text)
        for m in _HANDLE.finditer(text):
            if m.group(1) not in _NOT_NAMES and m.group(2) not in _NOT_NAMES:
                out.append(self.result(PERSON, m.start(), m.end(), 0.6,
                                       "name handle in Chinese text"))
        for m in _GIVEN_HANDLE.finditer(text):
            if m.group(1) in EN_FIRST_NAMES and m.group(1) not in _NOT_NAMES:
                out.append(self.result(PERSON, m.start(1), m.end(1), 0.6,
                                       "name handle in Chinese text"))
        for m in _AFTER_ZH_CONTEXT.finditer(text):
            word = m.group(1)
            first = re.split(r"[ _]", word)[0]
            if first in _NOT_NAMES or first.lower() in _STOP or zipf(first.lower()) >= 4.5:
                continue  # 客服Order, 收件人the ...: an English word, not a name
            out.append(self.result(PERSON, m.start(1), m.end(1), 0.65,
                                   "Latin name after a Chinese context word"))
        for m in _BEFORE_ZH_TITLE.finditer(text):
            if m.group(1) not in _NOT_NAMES:
                out.append(self.result(PERSON, m.start(1), m.end(1), 0.8,
                                       "Latin name before a Chinese title"))
        for m in _LONE_WORD.finditer(text):
            word = m.group()
            if word not in EN_FIRST_NAMES or word in _NOT_NAMES:
                continue
            # the nearest characters past any spaces (indices, not slices: a long text of
            # capitalised words must stay linear)
            i, j = m.start() - 1, m.end()
            while i >= 0 and text[i] == " ":
                i -= 1
            while j < len(text) and text[j] == " ":
                j += 1
            if not ((i >= 0 and text[i].isascii() and text[i].isalpha())
                    or (j < len(text) and text[j].isascii() and text[j].isalpha())):
                out.append(self.result(PERSON, m.start(), m.end(), 0.6,
                                       "known given name in Chinese text"))
        return out


# A word of a name: capitalised (Smith, O'Brien, McDonald, Jean-Luc), in capitals (SMITH),
# or an initial (J.); runs of them, joined by single spaces or name particles, are candidates.
# (Boundaries are Latin letters and digits, not \w: a name may touch Chinese text, 联系J. Smith也.)
_WORD = re.compile(r"(?<![A-Za-z0-9_@#/.&-])(?:(?:[A-Z]['’])?(?:Mc|Mac)?[A-Z][a-z]+"
                   r"(?:[-'’][A-Z]?[a-z]+)*|[A-Z]{2,}|[A-Z]\.)(?![A-Za-z0-9_@])")
_PARTICLES = frozenset({"van", "von", "de", "der", "den", "da", "di", "del", "la", "le", "bin",
                        "al", "du", "dos", "das", "ter", "ten"})
_CUE_BEFORE = re.compile(
    r"(?:\b(?:said|says|told|tells|asked|by|with|from|to|and|thanks|thank you|dear|hi|hello|"
    r"according to|spokesman|spokeswoman|minister|president|coach|striker|manager|captain|"
    r"player|leader|chairman|director|doctor|nurse|patient|customer|wife|husband|son|"
    r"daughter|mother|father|brother|sister|friend|colleague|contact|name is|name|named|called|"
    r"cc|attn)[:,]?\s*)$",
    re.IGNORECASE,
)
_CUE_AFTER = re.compile(
    r"\s*(?:,\s*(?:who|whose|\d{1,3}\b)|\(\d{1,3}\)|'s\b|’s\b|\s+(?:said|says|told|added|"
    r"wrote|asked|called|replied|explained|noted|scored|won|beat|lost|was|is|has|had|will|"
    r"who|and his|and her)\b)",
    re.IGNORECASE,
)
# After a capitalised word opening a sentence, these make it a verb or an interjection.
_NOT_A_NAME_AFTER = re.compile(r"\s+(?:you|your|i|we|they|it|the|a|an|this|that|to|all|"
                               r"everyone|me|us|him|her|them|so|not)\b")
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n\"“]|\s-\s)\s*$")


def _common(word: str, lower_words: set[str]) -> bool:
    """A word the text itself also uses in lower case, or a stop word: not a name alone."""
    w = word.lower()
    return w in lower_words or w in _STOP


def capitalised_runs(text: str) -> list[tuple[int, int, float, str]]:
    """Candidate names from runs of capitalised words, each with a score in 0..1."""
    lower_words = set(re.findall(r"\b[a-z][a-z'’]+\b", text))
    # Title Case Text (headlines, product and event names) capitalises every word, so there
    # capitals say little: such a text's runs need a listed name or a cue to count.
    alpha = re.findall(r"\b[A-Za-z][a-z'’]*\b", text)
    title_case = len(alpha) >= 4 and sum(w[0].isupper() for w in alpha) / len(alpha) > 0.6
    # TEXT IN CAPITALS (headlines, shouted notes) says even less: every word qualifies.
    letters = re.findall(r"[A-Za-z]{2,}", text)
    shouting = bool(letters) and sum(w.isupper() for w in letters) / len(letters) > 0.6
    given, family = _Lookup(given_names()), _Lookup(surnames())
    places = place_names()
    out: list[tuple[int, int, float, str]] = []
    words = list(_WORD.finditer(text))
    i = 0
    while i < len(words):
        run = [words[i]]
        j = i + 1
        while j < len(words):
            gap = text[run[-1].end() : words[j].start()]
            if gap in (" ", "") or (gap.strip() in _PARTICLES and gap.startswith(" ")
                                    and gap.endswith(" ") and gap.count(" ") == 2):
                run.append(words[j])
                j += 1
            else:
                break
        i = j
        # trim words that are never part of a name at either end (The, Monday, Street)
        while run and _edge_word(run[0].group()):
            run.pop(0)
        while run and _edge_word(run[-1].group()):
            run.pop()
        # everyday words before a name are roles and epithets ("Prime Minister", "Uzbek
        # striker", "Russian"): they open the run, the name follows (and they cue it)
        while len(run) > 1 and _everyday_lead(_norm(run[0].group()), given):
            run.pop(0)
        if not run or len(run) > 4:
            continue
        toks = [_norm(m.group()) for m in run]
        start, end = run[0].start(), run[-1].end()
        if toks[-1].endswith(".") and len(toks) > 1:
            continue  # "Smith J." ends a sentence more often than it is a name
        before = text[max(0, start - 30) : start]
        sentence_start = _SENTENCE_END.search(before) is not None
        cue = _CUE_BEFORE.search(before) is not None or _CUE_AFTER.match(text, end) is not None
        score = _run_score(toks, given, family, sentence_start, cue, lower_words)
        if shouting and not cue:
            score -= 0.25
        elif title_case and not cue:
            score -= 0.15
        if " ".join(toks) in places:
            score -= 0.5  # Sri Lanka, Jordan, Urdu
        if len(toks) == 1 and sentence_start and _NOT_A_NAME_AFTER.match(text, end):
            score = 0.0  # "Hope you are well", "Will you call", "Mark the date"
        if score > 0:
            out.append((start, end, round(min(score, 0.95), 3), "capitalised name-list run"))
    return out


def _run_score(toks: list[str], given: _Lookup, family: _Lookup,
               sentence_start: bool, cue: bool, lower_words: set[str]) -> float:
    first, last = toks[0], toks[-1]
    is_initial = [len(t) == 2 and t.endswith(".") for t in toks]
    if all(is_initial):
        return 0.0
    if len(toks) == 1:
        word = first
        if _common(word, lower_words):
            return 0.0
        g, f = given.get(word), family.get(word)
        score = 0.0
        if g is not None:
            score = 0.55 if g <= 1500 else 0.45
        elif f is not None and f <= 20000:
            score = 0.3  # a surname alone (Brown, English) is a name only with a cue
        elif _is_pinyin(word) and word in PINYIN_SURNAMES:
            score = 0.3
        if cue:
            score += 0.2 if score else 0.35
        common = zipf(word)
        if score and not cue and common >= _EVERYDAY and (g is None or g > 300):
            score -= 0.15  # Hope, Will, Grace, Bill: names, and everyday words
        elif score and common < _RARE and not sentence_start:
            score += 0.1
        if sentence_start:
            score -= 0.1
        return score
    g = given.get(first) if not is_initial[0] else None
    f = family.get(last)
    score = 0.35
    if g is not None:
        score += 0.3 if g <= 2000 else 0.2
    elif is_initial[0]:
        score += 0.2
    if f is not None:
        score += 0.25 if f <= 30000 else 0.15
    if (first in PINYIN_SURNAMES and _is_pinyin(last)) or (last in PINYIN_SURNAMES
                                                           and _is_pinyin(first)):
        score += 0.2
    if cue:
        score += 0.15
    # everyday words at either end ("Asian Cup", "Sage Award", "Political Wire") make a name
    # unlikely; a run of words English never uses otherwise ("Takuya Takagi") makes it likely
    full = [t for t, ini in zip(toks, is_initial, strict=True) if not ini]
    if zipf(last) >= _EVERYDAY and (f is None or f > 5000):
        score -= 0.35 if f is None else 0.25
    if not is_initial[0] and zipf(first) >= _EVERYDAY and (g is None or g > 1000):
        score -= 0.2
    if full and all(zipf(t) < _RARE for t in full):
        score += 0.15
    if all(_common(t, lower_words) for t in toks if not t.endswith(".")):
        score -= 0.3
    return score


# Zipf frequencies: an everyday English word (award, cup, hope: 30+ per million words), and
# a word English text hardly uses but as a name (under ~3 per million).
_EVERYDAY = 4.5
_RARE = 3.5


def _everyday_lead(word: str, given: _Lookup) -> bool:
    if word.lower() in _ROLES:
        return True
    if word.endswith(".") or zipf(word) < _EVERYDAY:
        return False
    rank = given.get(word)
    return rank is None or rank > 300


# Roles that stand before a name, however rare the word ("Prescriber Kofi Okafor").
_ROLES = frozenset("""
prescriber pharmacist doctor nurse patient customer client caller recipient cardholder buyer
member contact holder courier driver technician striker goalkeeper keeper midfielder defender
forward batsman bowler coach captain manager president minister chairman chairwoman director
spokesman spokeswoman senator governor judge officer inspector sergeant detective agent
champion leader chief secretary ambassador premier chancellor mayor general colonel
""".split())


class _Lookup:
    """A name list's rank of a word as written: O'Brien and McDonald are listed as Obrien
    and Mcdonald; a hyphenated given name (Jean-Luc) ranks as its first part, a double-barrelled
    surname (Smith-Jones) as its best part."""

    def __init__(self, ranks: dict[str, int]) -> None:
        self._ranks = ranks

    def get(self, word: str) -> int | None:
        key = word.replace("'", "").replace("’", "")
        rank = self._ranks.get(key) or self._ranks.get(key.title())
        if rank is not None or "-" not in key:
            return rank
        parts = [self._ranks.get(p.title()) for p in key.split("-") if p]
        found = [r for r in parts if r is not None]
        return min(found) if found else None


def _norm(word: str) -> str:
    """SMITH -> Smith, so names in capitals are looked up like any other."""
    return word.title() if word.isupper() and len(word) > 2 else word


def _edge_word(word: str) -> bool:
    w = _norm(word)
    return w in _NOT_NAMES or w.lower() in _STOP or w in EN_TITLES or w in _EDGE_EXTRA


_EDGE_EXTRA = frozenset("""
I I'm I've I'll I'd RT Mr. Mrs. Ms. Dr. Via LOL OMG Happy Merry Christmas Easter Good Great
Best New Old Big Little Saint St. God Lord Jesus Congrats Congratulations Welcome Yes No Ok
Okay Oh Yeah Hey Wow Thanks Love Today Tomorrow Tonight Yesterday Morning Evening Night
Inc Ltd Co Corp Company Group University College School Club United Airlines Bank Hotel
English Chinese French German Spanish Japanese Korean American British European Asian African
Indian Russian Italian Canadian Australian Mandarin Cantonese Western Eastern
""".split())
