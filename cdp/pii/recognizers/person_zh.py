"""Chinese person names, from jieba's name tags, surnames, honorifics and context.

A candidate is reported only when a surname (single, or compound such as 欧阳, 司马, 诸葛)
begins it and one more signal agrees:

* jieba tagged the word as a person name (``nr``/``nrt``/``nrfg``);
* an honorific follows the bare surname (王先生, 李女士, 张阿姨) — the whole form is reported;
* a context word introduces it (患者, 家属, 收件人, 我是, ...) — the given name is cut at a
  jieba word boundary, so "患者张伟今天来" yields 张伟.

Beside the rules, Baidu's LAC model (:mod:`cdp.pii.models.lac`) labels person names in any
position and style (a name opening a sentence, 黄成阳咨询..., a transliterated 约翰·史密斯, a
given name alone). Its spans are reported with a score built from the model's confidence and
the rules' evidence (a known surname, an honorific, agreement with a rule), so a policy's
threshold can trade recall for precision; see docs/pii.md for the figures.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from cdp.pii.entities import PERSON
from cdp.pii.lexicon.divisions import division_names
from cdp.pii.lexicon.names import (
    ZH_BRAND_AFTER,
    ZH_CALLED_CONTEXT,
    ZH_CHAT_FILLERS,
    ZH_COMMON_DOUBLED,
    ZH_COMPOUND_SURNAMES,
    ZH_FAMILY_SHOP_LINK,
    ZH_GIVEN_CHARS,
    ZH_GIVEN_ONLY_CONTEXT,
    ZH_HONORIFICS,
    ZH_NAME_CONTEXT,
    ZH_NAME_SAYINGS,
    ZH_NAMED_BRANDS,
    ZH_NOT_IN_NAME,
    ZH_NOT_SURNAME_BEFORE_TITLE,
    ZH_PET_WORDS,
    ZH_ROLE_WORDS,
    ZH_SHOP_AFTER,
    ZH_SOLAR_TERMS,
    ZH_STRONG_TITLES,
    ZH_SURNAMES,
    ZH_SURNAMES_TITLED,
    ZH_TITLES_STRICT,
    ZH_WORDS_NOT_NAMES,
)
from cdp.pii.lexicon.tcm import ZH_MATERIA_MEDICA
from cdp.pii.lexicon.zh_health import ZhHealthNames, zh_health_names
from cdp.pii.models.lac import LacSpan
from cdp.pii.recognizers._tokens import Tok, tokens_of
from cdp.pii.recognizers.base import CdpRecognizer
from cdp.pii.recognizers.person_en import pinyin_full_name

_SURNAME = "(?:" + "|".join(sorted(ZH_COMPOUND_SURNAMES)) + "|[" + "".join(sorted(ZH_SURNAMES)) + "])"
_HONORIFIC = re.compile(_SURNAME + "(?:" + "|".join(sorted(ZH_HONORIFICS, key=len, reverse=True))
                        + ")")
# a rarer Hundred-Family surname, trusted only before a two-character title (储阿姨, 阙经理)
_TITLED = re.compile("[" + "".join(sorted(ZH_SURNAMES_TITLED - ZH_SURNAMES)) + "](?:"
                     + "|".join(sorted(ZH_TITLES_STRICT, key=len, reverse=True)) + ")")
_CONTEXT = re.compile("(?:" + "|".join(sorted(ZH_NAME_CONTEXT, key=len, reverse=True))
                      + r")[：:\s]*(?:是|为|叫)?")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# a surname stated with 姓 (我姓霍, 姓郗的, 复姓欧阳), not 百姓 / 姓名 / 姓氏
_XING = re.compile("(?<!百)姓(" + "|".join(sorted(ZH_COMPOUND_SURNAMES))
                   + "|[\u4e00-\u9fff])")
_XING_NOT = frozenset("名氏什啥甚谁哪客男女")  # 姓客服, 刘姓男子: not a surname after 姓
_ANY_TITLED = re.compile("([\u4e00-\u9fff])(?:" + "|".join(ZH_STRONG_TITLES) + ")")
_CALLED = re.compile("(?:" + "|".join(sorted(ZH_CALLED_CONTEXT, key=len, reverse=True))
                     + r")[：:\s]*(?:是)?")
_GIVEN_ONLY = re.compile("(?:" + "|".join(sorted(ZH_GIVEN_ONLY_CONTEXT, key=len, reverse=True))
                         + r")[：:\s]*")
# 我是佳佳, 谢谢冬冬: a doubled given name as chat uses it, to introduce oneself or to thank
_SELF = re.compile(r"(?:我是|我就是|本人|谢谢|叫|跟|和|给|找|问)[：:\s]*")
# a relative's given name alone: 我女儿雨萱, 表妹诗涵 (weak: 女儿今天 is a date, not a name)
_KIN = re.compile(r"(?:女儿|儿子|闺女|妹妹|姐姐|弟弟|哥哥|表妹|表姐|表弟|表哥|侄女|侄子|外甥女|外甥|"
                  r"孙女|孙子|老婆|老公|闺蜜|同学|朋友|室友|同事)")
# a surname written before 姓 and a word for the person: 一刘姓男子, 钟姓药师
_SURNAME_XING = re.compile("(" + _SURNAME + ")姓(?=男|女|的|人|顾客|客户|店员|药师|医生|患者|客服|"
                           "员工|同学|老师|骑手|司机)")
# a name as a group chat's speaker label or an @mention: 大慧：明天..., @晓峰 你...
_LABEL_OR_MENTION = re.compile(r"(?:(?:^|(?<=[\s】」』）)]))([\u4e00-\u9fff]{2,3})(?=[：:])"
                               r"|@([\u4e00-\u9fff]{2,3})(?=[\s，,。！!？?：:]|$))")
# a child's name with the word for a parent: 甜甜妈妈, 乐乐爸
_CHILD_PARENT = re.compile(r"(([\u4e00-\u9fff])\2)(?=妈妈|爸爸|妈|爸|奶奶|爷爷|姥姥|外婆)")
# a speaker label with a role and a given name: 客服语嫣：, 药师晓彤：
_ROLE_GIVEN_LABEL = re.compile(r"(?:客服|药师|店员|骑手)([\u4e00-\u9fff]{2})(?=[：:])")
_DOUBLED_OPENING = re.compile(r"(?:^|(?<=[\s，。！？；：,.!?;:、…~（）()【】\[\]“”\"]))"
                              r"(([\u4e00-\u9fff])\2)(?=[\u4e00-\u9fff，,、：:\s])")
_COMPOUND_ALONE = ZH_COMPOUND_SURNAMES - frozenset("东方 西门 长孙 百里 司空 濮阳 单于 太史".split())
_ROLE_SURNAME = re.compile("(?:药师|客服|医生|护士|店员|店长|骑手|坐席|专员)([" + "".join(sorted(ZH_SURNAMES))
                           + "])(?=[：:，,])")
# a span this common in jieba's dictionary is an everyday word (麻烦, 明白, 包括, 周六) unless
# a rule with more than a tag or the model behind it says otherwise
_EVERYDAY_FREQ = 300
# after a context word (客服：麻烦..., 客户包括...) only the most common words: names that are
# also words (高峰, 李娜, 向阳) are in the dictionary too, less often
_COMMON_AFTER_CONTEXT = 2000
# characters a name never ends with: pronouns, and verb endings that follow a verb
_NEVER_LAST = frozenset("您你我他她它们到能吗呢吧啊呀嘛哦")
_PLACE_LAST = frozenset("区县市省镇乡村")
_PLATE = re.compile(r"[\u4e00-\u9fff][A-Z]")
_WEEKDAYS = frozenset("周一 周二 周三 周四 周五 周六 周日 周天 周末".split())
_BRAND_AFTER = tuple(sorted(ZH_BRAND_AFTER, key=len, reverse=True))
_SHOP_AFTER = tuple(sorted(ZH_SHOP_AFTER, key=len, reverse=True))
_BRANDS_BY_FIRST: dict[str, tuple[str, ...]] = {}
for _b in sorted(ZH_NAMED_BRANDS, key=len, reverse=True):
    _BRANDS_BY_FIRST[_b[0]] = (*_BRANDS_BY_FIRST.get(_b[0], ()), _b)
# a pet named after the word for it: 我家狗子叫旺财, 猫咪名叫咪咪
_PET_NAMED = re.compile("(?:" + "|".join(sorted(ZH_PET_WORDS, key=len, reverse=True))
                        + ")(?:的名字)?(?:叫做|名叫|叫)?$")
# what follows an organisation's name, not a person's: 禾悦的药师, 某店的直播间
_ORG_AFTER = tuple("的" + w for w in ("药师", "店长", "骑手", "客服", "店员", "门店", "智能客服",
                                      "直播间", "官方", "小程序", "app", "APP"))
_GLUE = frozenset("找给向请问叫让和跟为被把对替帮已由与及同")
# jieba's person-name tags, and "nw": a word its HMM put together that is in no dictionary
_NAME_TAGS = frozenset({"nr", "nrt", "nrfg", "nw"})


def surname_len(text: str, pos: int) -> int:
    """Length of the surname starting at ``pos`` (2 for compound, 1 for single, 0 for none)."""
    if text[pos : pos + 2] in ZH_COMPOUND_SURNAMES:
        return 2
    if pos < len(text) and text[pos] in ZH_SURNAMES:
        return 1
    return 0


# the prefixes of a familiar form of a surname (老张, 小欧阳, 阿陈); for the model's score and a
# group chat's speaker labels also 大 (大周), which after a role word is as often an adjective
# (店长大方)
_FAMILIAR = frozenset("老小阿")
_FAMILIAR_SCORED = _FAMILIAR | {"大"}


def _familiar_form(word: str, prefixes: frozenset[str]) -> bool:
    """A familiar prefix and a surname, nothing more (老张, 小欧阳, 大周)."""
    return len(word) >= 2 and word[0] in prefixes and surname_len(word, 1) == len(word) - 1


def _ends_name(text: str, end: int, ends: set[int]) -> bool:
    """A name found up to ``end`` ends there: on a word boundary, the text's end, a non-Han
    character, or a particle / common verb that cannot be part of it (张伟有高血压)."""
    return (end in ends or end == len(text) or not _CJK.match(text[end])
            or text[end] in ZH_NOT_IN_NAME)


def _given_ok(given: str) -> bool:
    return bool(given) and all(_CJK.match(c) and c not in ZH_NOT_IN_NAME for c in given)


def _glued(toks: list[Tok], pos: int, text: str) -> bool:
    """True when the word holding ``pos`` is only function characters plus the surname."""
    for t in toks:
        if t.start < pos < t.end:
            return t.end == pos + 1 and all(ch in _GLUE for ch in text[t.start : pos])
    return False


# Surnames that are also a measure word or a conjunction: after a number or demonstrative
# (这张卡, 两张) or between two nouns (高血压和脂溢性皮炎) they are not a name's first character.
_MEASURE_SURNAMES = frozenset("张包支封")
_NUMBERISH = frozenset("这那一二两三四五六七八九十几每哪整半0123456789０１２３４５６７８９")
_FUNCTION_SURNAMES = frozenset("和于向时成")


def _measure_or_function(text: str, pos: int) -> bool:
    ch = text[pos] if pos < len(text) else ""
    before = text[pos - 1] if pos else ""
    if ch in _MEASURE_SURNAMES and before in _NUMBERISH:
        return True
    return ch in _FUNCTION_SURNAMES and bool(before) and _CJK.match(before) is not None


def _reduplicated(word: str) -> bool:
    # 谢谢, 常常, 方方面面: a surname character doubled is an ordinary word, not a name
    return len(word) == 2 and word[0] == word[1]


class ChinesePersonRecognizer(CdpRecognizer):
    ENTITIES = (PERSON,)

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if not _CJK.search(text):
            return []
        toks = tokens_of(nlp_artifacts)
        starts = {t.start for t in toks}
        ends = {t.end for t in toks}
        results: list[RecognizerResult] = []
        # positions already inside a reported name (an array, not a list of spans: a text
        # of 30,000 honorifics must not cost 30,000 x 30,000 comparisons)
        taken = bytearray(len(text) + 1)

        def add(s: int, e: int, score: float, why: str) -> None:
            taken[s:e] = b"\x01" * (e - s)
            results.append(self.result(PERSON, s, e, score, why))

        # 1. surname + honorific, starting on a word boundary (王先生, 欧阳女士)
        for m in _HONORIFIC.finditer(text):
            # jieba may glue a one-character verb or preposition to the surname (找任|叔叔)
            if _measure_or_function(text, m.start()):
                continue  # 总统和夫人: a conjunction, not the surname 和
            if m.start() in starts or not toks or _glued(toks, m.start(), text):
                add(m.start(), m.end(), 0.8, "surname with honorific")
        for m in _TITLED.finditer(text):
            if not taken[m.start()] and (m.start() in starts or not toks
                                         or _glued(toks, m.start(), text)):
                add(m.start(), m.end(), 0.75, "surname with honorific")
        # 1b. a surname stated with 姓: 我姓霍, 找一下姓郗的, 复姓欧阳
        for m in _XING.finditer(text):
            s, e = m.span(1)
            if taken[s] or (e - s == 1 and (text[s] in _XING_NOT or text[s] in ZH_NOT_IN_NAME)):
                continue
            add(s, e, 0.75, "surname stated with 姓")
        # 1c. any character starting a word before 先生 / 女士 / 小姐 / 老板: a rarer surname
        # than the lists hold (檀女士, 铁先生, 朴先生)
        for m in _ANY_TITLED.finditer(text):
            s = m.start()
            if (taken[s] or text[s] in ZH_NOT_SURNAME_BEFORE_TITLE
                    or _measure_or_function(text, s)):
                continue
            if s in starts or not toks or _glued(toks, s, text):
                add(s, m.end(), 0.65, "character before a strong title")
        # 2. context word then surname + given name
        # searched with overlaps: 我妈妈 holds both 我妈 and 妈妈, and only the second is
        # followed by the name
        pos = 0
        while (cm := _CONTEXT.search(text, pos)) is not None:
            pos = cm.start() + 1
            p = cm.end()
            s = surname_len(text, p)
            if not s and text[p : p + 1] in _FAMILIAR and not taken[p]:
                # 骑手小孔, 客服阿陈: a familiar form of a surname after the role word
                f = surname_len(text, p + 1)
                end = p + 1 + f
                if f and _ends_name(text, end, ends):
                    add(p, end, 0.75, "name after context word")
                continue
            if not s or taken[p] or text[p] == "和":
                continue  # 姓名和电话: the conjunction, not the surname 和
            for g in (2, 1):
                end = p + s + g
                if end > len(text) or not _given_ok(text[p + s : end]):
                    continue
                if _ends_name(text, end, ends):
                    add(p, end, 0.75, "name after context word")
                    break
        # 2b. a given name alone where people are named by it: after 叫 (我叫国强, 一个叫晓静
        #的), and a child's or colleague's after the word for them (患儿朵朵, 客服欢欢)
        for rx, doubled_only in ((_CALLED, False), (_GIVEN_ONLY, True), (_SELF, True)):
            for cm in rx.finditer(text):
                p = cm.end()
                if taken[p] or surname_len(text, p):
                    continue
                f = surname_len(text, p + 1) if text[p : p + 1] in _FAMILIAR else 0
                if f and rx is _CALLED:
                    end = p + 1 + f
                    if _ends_name(text, end, ends):
                        add(p, end, 0.7, "given name after context")  # 叫我老谢就行
                    continue
                for g in (2, 3):
                    end = p + g
                    given = text[p:end]
                    if end > len(text) or not self._given_alone_ok(given, doubled_only):
                        continue
                    if rx is _SELF and given[0] != given[1]:
                        continue  # 我是小白 (a beginner): after 我是 only a doubled name
                    if _ends_name(text, end, ends):
                        add(p, end, 0.7 if not doubled_only else 0.6, "given name after context")
                        break
        # 2b'. a relative's given name (我女儿雨萱跟你说), an agent's in a speaker label
        # (客服语嫣：): not a word of the dictionary unless it is tagged as a name (客服备注：)
        info = getattr(nlp_artifacts, "cdp_word_info", None)

        def dictionary_word(word: str) -> bool:
            freq, tag = info(word) if info is not None else (0, "")
            return freq > 0 and tag not in _NAME_TAGS

        for cm in _KIN.finditer(text):
            p, end = cm.end(), cm.end() + 2
            given = text[p:end]
            if (end <= len(text) and not taken[p] and not surname_len(text, p)
                    and self._given_alone_ok(given, False)
                    and (given[0] == given[1] or not dictionary_word(given))
                    and _ends_name(text, end, ends)):
                add(p, end, 0.6, "given name after kinship word")
        for m in _ROLE_GIVEN_LABEL.finditer(text):
            s = m.start(1)
            if (not taken[s] and self._given_alone_ok(m.group(1), False)
                    and not dictionary_word(m.group(1))):
                add(s, m.end(1), 0.7, "given name in a speaker label")
        for m in _LABEL_OR_MENTION.finditer(text):
            g = 1 if m.group(1) else 2
            s, word = m.start(g), m.group(g)
            if taken[s] or word in ZH_ROLE_WORDS or dictionary_word(word):
                continue  # 金额：, 时间：: a form's field, not a speaker
            sl = surname_len(word, 0)
            if (sl and _given_ok(word[sl:])) or _familiar_form(word, _FAMILIAR_SCORED):
                add(s, m.end(g), 0.65, "name as a label or mention")  # @王晓峰, 张敏：, 大周：
            elif len(word) == 2 and self._given_alone_ok(word, False) and (
                    word[0] == word[1] or g == 2):
                add(s, m.end(g), 0.6, "name as a label or mention")  # @晓峰, 婷婷：
        for m in _CHILD_PARENT.finditer(text):
            s = m.start(1)
            pair = m.group(1)
            if not taken[s] and pair not in ZH_ROLE_WORDS and pair not in ZH_CHAT_FILLERS:
                add(s, m.end(1), 0.6, "child's name with a parent")  # 甜甜妈妈
        for m in _SURNAME_XING.finditer(text):
            s = m.start(1)
            if not taken[s]:
                add(s, m.end(1), 0.75, "surname stated with 姓")  # 一刘姓男子
        # 2c. a doubled given-name character opening a sentence: a child or a friend called
        # by it (乐乐，8个月; 欣欣在不在). Weak on its own: kept for recall-first policies.
        for m in _DOUBLED_OPENING.finditer(text):
            s, e = m.span(1)
            pair = text[s:e]
            if (taken[s] or pair in ZH_COMMON_DOUBLED or pair[0] not in ZH_GIVEN_CHARS
                    or text[e:e + 1] in ("地", "的")):
                continue
            add(s, e, WEAK_UNCONFIRMED, "doubled given name")
        # 2d. a compound surname alone, as a word (上官的订单, 欧阳说): only those that are
        # not also ordinary words (东方, 西门, 长孙, 百里)
        for tok in toks:
            after = text[tok.end : tok.end + 1]
            if (tok.text in _COMPOUND_ALONE and not taken[tok.start]
                    and (not _CJK.match(after) or after in ZH_NOT_IN_NAME)):
                # 欧阳|娜娜 is a full name (rule 3 joins it), 上官的 a surname alone
                add(tok.start, tok.end, 0.6, "compound surname alone")
        # 2e. a role word, then a surname alone before a colon or comma: a signature or a
        # speaker (夜班药师桑：, 客服李，)
        for m in _ROLE_SURNAME.finditer(text):
            s = m.start(1)
            if not taken[s]:
                add(s, s + 1, 0.6, "surname after a role word")
        # 3. jieba name tags, anchored on a known surname
        for i, tok in enumerate(toks):
            if taken[tok.start]:
                continue
            if (tok.tag == "nw" and 3 <= len(tok.text) <= 5 and tok.text[0] in _GLUE
                    and surname_len(tok.text, 1)):
                # jieba's HMM glued a preposition or verb to an unseen name: 帮|祁嘉懿
                given = tok.text[1 + surname_len(tok.text, 1):]
                if given and len(given) <= 2 and all(c in ZH_GIVEN_CHARS for c in given):
                    add(tok.start + 1, tok.end, 0.7, "name after a glued function word")
                    continue
            if _measure_or_function(text, tok.start):
                continue
            if tok.tag in _NAME_TAGS and 2 <= len(tok.text) <= 4 and not _reduplicated(tok.text):
                s = surname_len(tok.text, 0)
                if (s and _given_ok(tok.text[s:]) and not tok.text.endswith(ZH_HONORIFICS)
                        and (tok.tag != "nw" or all(c in ZH_GIVEN_CHARS for c in tok.text[s:]))):
                    add(tok.start, tok.end, 0.7, "jieba person-name tag")
                    continue
            # a surname split off from a tagged given name: 欧阳|娜娜, 韦|晓明
            if i + 1 < len(toks) and tok.text and surname_len(tok.text, 0) == len(tok.text):
                nxt = toks[i + 1]
                if (nxt.tag in _NAME_TAGS and 1 <= len(nxt.text) <= 2 and _given_ok(nxt.text)
                        and nxt.text not in ZH_HONORIFICS):
                    add(tok.start, nxt.end, 0.7, "surname plus tagged given name")
            # the same, with a function word glued in front of the surname: 帮黄|珂
            elif (i + 1 < len(toks) and tok.tag == "nw" and len(tok.text) in (2, 3)
                    and tok.text[0] in _GLUE and surname_len(tok.text, 1) == len(tok.text) - 1):
                nxt = toks[i + 1]
                if (nxt.tag in _NAME_TAGS and 1 <= len(nxt.text) <= 2 and _given_ok(nxt.text)
                        and nxt.text not in ZH_HONORIFICS):
                    add(tok.start + 1, nxt.end, 0.7, "glued surname plus tagged given name")
        model = getattr(nlp_artifacts, "cdp_lac", None)
        if model is not None:
            results = _weigh_with_model(self, text, model, results)
        # jieba tags 顾客 as a name, and 师姐 reads as surname + title
        return [r for r in results if text[r.start : r.end] not in ZH_ROLE_WORDS
                and not _not_a_person(text, r, info)]

    @staticmethod
    def _given_alone_ok(given: str, doubled_only: bool) -> bool:
        """A given name without its surname: two characters (three after 叫), each usable in
        a name; after a child's or colleague's role word only a doubled one (朵朵, 欢欢) or a
        小 form (小满), which ordinary words rarely are."""
        if not _given_ok(given) or any(c not in ZH_GIVEN_CHARS for c in given.lstrip("小")):
            return False
        if given in ZH_COMMON_DOUBLED or given in ZH_ROLE_WORDS or given in ZH_MATERIA_MEDICA:
            return False
        if doubled_only:
            return len(given) == 2 and (given[0] == given[1] or given[0] == "小")
        return True


# Rule hits that rest on jieba's dictionary tags alone: right for names the dictionary knows,
# wrong for many ordinary words that start with a surname character (文明, 安全性, 高达).
_WEAK_RULES = frozenset({"jieba person-name tag", "surname plus tagged given name",
                         "glued surname plus tagged given name",
                         "name after a glued function word"})
# A weak rule hit the model did not call a name: kept as a candidate for recall-first
# policies (storage), below the default threshold.
WEAK_UNCONFIRMED = 0.45


def _weigh_with_model(rec: CdpRecognizer, text: str, spans: list[LacSpan],
                      results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Combine rule hits with the model's person spans (see the module docstring)."""
    # characters inside a model person span (an array: linear however many names)
    per = bytearray(len(text) + 1)
    for sp in spans:
        if sp.label == "PER":
            per[sp.start : sp.end] = b"\x01" * (sp.end - sp.start)
    out: list[RecognizerResult] = []
    for r in results:
        why = r.analysis_explanation.textual_explanation if r.analysis_explanation else ""
        if why in _WEAK_RULES and not any(per[r.start : r.end]):
            r = rec.result(PERSON, r.start, r.end, WEAK_UNCONFIRMED, why + " (model disagrees)")
        out.append(r)
    _add_model_names(rec, text, spans, out)
    return out


_LATIN_OR_CJK = re.compile(r"[A-Za-z\u4e00-\u9fff]")
# one word of Latin letters in lower case, tone-marked pinyin included
_LOWER_LATIN = re.compile(r"[a-zà-ÿāēěīōūǎǐǒǔǖǘǚǜ]+")
_TRIM = " \t\r\n,.;:!?，。；：！？、“”‘’\"'()（）[]【】《》<>·•"


def _symbol(ch: str) -> bool:
    """An emoji, a pictograph or another symbol (the model reads them as unknown characters
    and may run a name into them: 花🌹, 小凯😂)."""
    return unicodedata.category(ch)[0] in "SZC"


# 周 and 月 are surnames too: 下周再来 is "come back next week", not 周再来.
_TIME_WORDS = frozenset("下周 上周 本周 每周 这周 那周 下月 上月 本月 每月 这月 当月 次月".split())


def _model_score(name: str, confidence: float) -> float:
    """A score for a span the model labelled PER: its confidence, raised by a known surname
    at the start, an honorific at the end, or a transliteration dot; lowered for a single
    character (a given name alone is often a word)."""
    score = 0.45 + 0.35 * confidence
    # a lone surname character is no evidence of a name (给我买了花: flowers); a familiar
    # form of a surname (老张, 小欧阳, 阿陈) is
    if (surname_len(name, 0) and len(name) <= 4) or _familiar_form(name, _FAMILIAR_SCORED):
        score += 0.15
    if name.endswith(ZH_HONORIFICS):
        score += 0.1
    if "·" in name or "•" in name:
        score += 0.1
    if len(name) == 1:
        score -= 0.2
    return min(score, 0.95)


def _add_model_names(rec: CdpRecognizer, text: str, spans: list[LacSpan],
                     results: list[RecognizerResult]) -> None:
    """The model's person spans, each scored. Where a rule found the same name, the two
    agree: one span covering both (王先生 from the rule, 王 from the model) at a raised
    score."""
    # which rule result covers each character (an array: texts of thousands of names)
    owner = [-1] * (len(text) + 1)
    for k, r in enumerate(results):
        owner[r.start : r.end] = [k] * (r.end - r.start)
    for sp in spans:
        if sp.label != "PER":
            continue
        s, e = sp.start, sp.end
        while s < e and (text[s] in _TRIM or _symbol(text[s])):
            s += 1
        while e > s and (text[e - 1] in _TRIM or _symbol(text[e - 1])):
            e -= 1
        name = text[s:e]
        if (not name or not _LATIN_OR_CJK.search(name) or name in ZH_ROLE_WORDS
                or text[max(0, s - 1) : s + 1] in _TIME_WORDS):
            continue
        if _LOWER_LATIN.fullmatch(name) and not pinyin_full_name(name):
            continue  # mark一下, emmm, yysy, kuǎi: chat words; lower-case names have rules
        score = _model_score(name, sp.confidence)
        hits = set(owner[s:e]) - {-1}
        if not hits:
            results.append(rec.result(PERSON, s, e, round(score, 3), "model person name"))
        elif len(hits) == 1:
            k = hits.pop()
            r = results[k]
            merged = min(0.95, max(score, r.score) + 0.1)
            why = r.analysis_explanation.textual_explanation if r.analysis_explanation else ""
            if why.startswith(tuple(_WEAK_RULES)) and r.start <= s and e <= r.end and e - s >= 2:
                # jieba's new word glued a function word to the name (和|老王, 祝|小凯):
                # the model's boundaries are the name's
                lo, hi = s, e
            else:
                lo, hi = min(s, r.start), max(e, r.end)
            results[k] = rec.result(PERSON, lo, hi, round(merged, 3), "model and rule agree")
        # a model span across several rule hits (王先生王先生...) adds nothing to them


# Rule hits with a title or 姓 in them: a person whatever follows
_TITLE_RULES = frozenset({"surname with honorific", "surname stated with 姓",
                          "character before a strong title"})
# Rule hits that a stronger rule stands behind: kept even when the span is an everyday word
_STRONG_RULES = _TITLE_RULES | frozenset({"name after context word", "given name after context",
                                          "model and rule agree", "compound surname alone",
                                          "surname after a role word"})


def _not_a_person(text: str, r: RecognizerResult,
                  info: Callable[[str], tuple[int, str]] | None) -> bool:
    """A span that names a herb or a brand, or one that is an everyday word on weak evidence
    (a dictionary tag, or the model alone at low confidence)."""
    span = text[r.start : r.end]
    why = r.analysis_explanation.textual_explanation if r.analysis_explanation else ""
    if any(_saying_at(text, r.start, r.end, say) for say in ZH_NAME_SAYINGS):
        return True  # 事后诸葛亮, 张三李四: a saying, about nobody
    if why in _TITLE_RULES or span.endswith(ZH_HONORIFICS):
        return False  # 王先生 is a person even where a shop or a herb follows
    if any(len(b) >= len(span) and text.startswith(b, r.start)
           for b in _BRANDS_BY_FIRST.get(span[:1], ())):
        return True  # 马应龙还有吗, 周黑|鸭, 小红书: a brand or an app read as a name
    if any(span.startswith(h) or h.startswith(span) for h in _herbs_at(text, r.start)):
        return True
    health = zh_health_names()
    if span in health.kinds:
        return True  # 高烧, 阿达帕林: a symptom, disease or medicine is nobody's name
    if r.end < len(text) and health.begins_named(text[r.start : r.end + 1]):
        return True  # 蒲地|蓝, 黄连|上清片: the span runs on into a medicine's or disease's name
    if len(span) >= 3 and health.begins_medicine_longer(span):
        return True  # 夏桑菊 (颗粒), 连花清 (瘟): a medicine's name, shortened as people do
    if text.startswith(_BRAND_AFTER, r.end) or span.endswith(_BRAND_AFTER + _SHOP_AFTER):
        return True  # 张仲景大药房, 王老吉凉茶: a brand or shop named after someone
    trade_at = r.end + 1 if text.startswith(ZH_FAMILY_SHOP_LINK, r.end) else r.end
    if text.startswith(_SHOP_AFTER + _BRAND_AFTER, trade_at):
        return True  # 王记面馆, 汤氏诊所: a shop named after its owner's family
    if any(text.startswith(_BRAND_AFTER, r.end - k) for k in (1, 2) if len(span) > k):
        return True  # 邓老凉|茶: the span ends inside a brand's trade word
    if span in ZH_WORDS_NOT_NAMES or (len(span) >= 3 and len(set(span)) == 1):
        return True  # 韩文, 熊猫 (words); 嘤嘤嘤 (a filler)
    if len(span) == 2 and span[1] == "记" and why not in _STRONG_RULES:
        return True  # 张记 (牛肉面): a shop's name
    if (text.startswith(_ORG_AFTER, r.end) and why not in _STRONG_RULES
            and text[r.start - 1 : r.start] != "叫"):
        return True  # 禾悦的药师 (an organisation's staff); 叫梅梅的客服 is the agent's name
    if (len(span) == 1 and r.start >= 2 and text[r.start - 1] == "的"
            and span in text[max(0, r.start - 4) : r.start - 1]):
        return True  # 阎王的阎: a character spelt out
    if "什么" in span and not surname_len(span, 0):
        return True  # 阿什么糖: a half-remembered word, not a surname
    if (why not in _STRONG_RULES and len(span) >= 2 and text[r.end : r.end + 1] == "的"
            and text[r.end + 1 : r.end + 2] in span):
        return True  # 栾川的栾, 孙子的孙: a word spelling out a character
    if _inside_a_health_name(text, r.start, r.end, health):
        return True  # 苯溴|马隆, 复方|黄连素: the end of a medicine's or disease's name
    if span in ZH_CHAT_FILLERS or span in division_names():
        return True  # 恩恩 好的 (a filler), 送到石家庄 (a city)
    if span in ZH_SOLAR_TERMS and why not in _STRONG_RULES and text[r.start - 1 : r.start] != "@":
        return True  # 小满一过天就热 (a solar term); 患儿小满 is a child
    if span.endswith(("国人", "族人")):
        return True  # 我是韩国人: a nationality
    if _PET_NAMED.search(text, max(0, r.start - 8), r.start):
        return True  # 我家狗子叫旺财: a pet
    if span in _WEEKDAYS or _PLATE.fullmatch(span):
        return True  # 客户周六 (a day of the week), 苏E·8K2X6 (a number plate)
    if len(span) >= 2 and span[-1] in _NEVER_LAST:
        return True  # 祝您, 查到, 何时能: a word and a pronoun or a verb's ending
    weak = why not in _STRONG_RULES and not (why == "model person name" and r.score >= 0.8)
    if weak and len(span) >= 3 and span[-1] in _PLACE_LAST:
        return True  # 白云区, 高新区: a place the dictionary tags as a name
    if info is None:
        return False
    if len(span) == 3 and span[2] in _AFTER_TIME_WORD:
        freq, tag = info(span[:2])
        if tag in _NEVER_NAME_TAGS and freq >= _EVERYDAY_FREQ:
            return True  # 儿子明天来 (取药): a time word and a verb, even after a kin word
    if len(span) != 2:
        return False  # three characters and more: famous names are common words too (邓小平)
    freq, tag = info(span)
    if tag in _NEVER_NAME_TAGS and freq >= _EVERYDAY_FREQ:
        return True  # 凌晨 (a time), 万一 (a numeral phrase), 于是 (a conjunction)
    if why == "name after context word":
        # 客服：麻烦提供..., 客服：包括的: a surname character opening a very common word
        return freq >= _COMMON_AFTER_CONTEXT
    if not weak:
        return False
    # a word the dictionary does not call a name, or calls one but uses very often (明白)
    return freq >= (_COMMON_AFTER_CONTEXT if tag in _NAME_TAGS else _EVERYDAY_FREQ)


# jieba's tags of times, numerals, conjunctions: a common word with one is nobody's name
_NEVER_NAME_TAGS = frozenset({"t", "m", "c"})
# coming and going, and adverbs, after a time word (明天来, 明天再来, 周末就到): not how a given
# name ends (老客户周一诺 stays a name). Other verbs are left out: 女儿夏天吃了... may name a
# daughter 夏天, and an unclear case is redacted.
_AFTER_TIME_WORD = frozenset("来去到回走再就都也又还")


def _saying_at(text: str, start: int, end: int, say: str) -> bool:
    """Whether ``say`` occurs in ``text`` overlapping [start, end)."""
    i = text.find(say, max(0, start - len(say) + 1), end + len(say) - 1)
    return i != -1 and i < end and i + len(say) > start


def _inside_a_health_name(text: str, start: int, end: int, health: ZhHealthNames) -> bool:
    """Whether a disease or medicine name (not a symptom) that begins up to 8 characters
    before ``start`` runs past ``end``: the span is its tail (苯溴马隆's 马隆)."""
    for s in range(max(0, start - 8), start):
        for n in health.lengths.get(text[s : s + 2], ()):
            if s + n >= end and health.kinds.get(text[s : s + n], "symptom") != "symptom":
                return True
    return False


_HERB_LENGTHS = sorted({len(h) for h in ZH_MATERIA_MEDICA}, reverse=True)


def _herbs_at(text: str, pos: int) -> list[str]:
    """The materia medica names that start at ``pos``."""
    return [text[pos : pos + n] for n in _HERB_LENGTHS if text[pos : pos + n] in ZH_MATERIA_MEDICA]
