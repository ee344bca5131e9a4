"""Health terms (diagnoses, drug names) as the sensitive-data type ``HEALTH_TERM``.

Five sources, all offline: a lexicon of diagnoses and drug stems (zh and en); English
diagnosis names from ICD-10-CM (``cdp.pii.lexicon.diagnoses``); Chinese disease and
medicine names from CMeKG (``cdp.pii.lexicon.zh_health``); Chinese
word formation over jieba tokens (a drug-like stem followed by a dosage form such as
缓释片/胶囊/注射液, a word ending in 炎/症/病); and English INN suffixes (-sartan,
-statin, -prazole...). Health data is sensitive personal information (PIPL art. 28), so the
access layer keys off this type.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from cdp.pii.entities import HEALTH_TERM
from cdp.pii.lexicon.diagnoses import DiagnosisNames, en_diagnosis_names
from cdp.pii.lexicon.drug_vocabulary import drug_words
from cdp.pii.lexicon.health import (
    EN_DIAGNOSES,
    EN_DRUG_SUFFIXES,
    EN_DRUGS,
    ZH_DIAGNOSES,
    ZH_DISEASE_SUFFIXES,
    ZH_DOSAGE_FORMS,
    ZH_DRUG_STEMS,
    ZH_NOT_DISEASE,
    ZH_NOT_DRUG_PREFIXES,
)
from cdp.pii.lexicon.zh_health import ZhHealthNames, zh_health_names
from cdp.pii.recognizers._tokens import Tok, tokens_of, trie_regex
from cdp.pii.recognizers.base import CdpRecognizer

_FORMS = "(?:" + "|".join(ZH_DOSAGE_FORMS) + ")"
# A known stem, then optionally a few more characters (a second ingredient, a salt, a route:
# 厄贝沙坦氢氯噻嗪片, 布地奈德鼻喷雾剂) up to a dosage form; conjunctions end the name.
_ZH_LEXICON = re.compile(
    "(?:" + trie_regex(ZH_DRUG_STEMS) + "(?:(?:(?![和与及或的了是吃买用、])[\u4e00-\u9fff])"
    "{0,6}?" + _FORMS + ")?|" + trie_regex(ZH_DIAGNOSES) + ")"
)
# English disease word formation: -itis, -osis, -algia..., "X disease/syndrome/disorder",
# with the clinical modifiers that are part of a diagnosis.
_EN_MODIFIER = (r"(?:(?:chronic|acute|severe|mild|allergic|ulcerative|peptic|plaque|sleep|"
                r"seasonal|bacterial|viral|recurrent|diabetic|atopic|rheumatoid)\s+)?")
_EN_DISEASE = re.compile(
    r"(?<![A-Za-z])" + _EN_MODIFIER + r"(?:(?!diagnosis|prognosis)[a-z]{3,20}(?:itis|osis|algia|"
    r"emia|pathy|iasis)|[A-Za-z]{3,20}(?:'s)?\s+(?:disease|syndrome|disorder)|apnea|ulcer)"
    r"(?![A-Za-z])", re.IGNORECASE)
_EN_NOT_DISEASE_HEAD = re.compile(r"(?:the|a|an|this|that|his|her|their|my|your|any|no|"
                                  r"of|heart|skin|rare|which)\s", re.IGNORECASE)
_EN_LEXICON = re.compile(
    r"(?<![A-Za-z])(?:" + trie_regex({w for w in EN_DIAGNOSES | EN_DRUGS}) + r")(?![A-Za-z])",
    re.IGNORECASE,
)
_EN_SUFFIX = re.compile(r"(?<![A-Za-z])[a-z]{2,20}(?:" + "|".join(EN_DRUG_SUFFIXES)
                        + r")(?![A-Za-z])", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_EN_WORD = re.compile(r"(?<![A-Za-z])[A-Za-z][a-z]{4,}(?:-[a-z]+)?(?![A-Za-z])")
# Words of a diagnosis name: letters, digits, inner hyphens and apostrophes (type 2 diabetes
# mellitus, stevens-johnson syndrome, crohn's disease).
_EN_TERM_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9](?:[A-Za-z0-9'\-]*[A-Za-z0-9])?(?![A-Za-z0-9])")
# POS tags a drug-name stem can carry in jieba (nouns, names, numerals, bound morphemes,
# distinguishing words, foreign words); verbs, particles and punctuation end the stem.
_STEM_TAGS = frozenset({"n", "nz", "nr", "nrt", "nrfg", "ns", "nt", "b", "m", "g", "eng", "j",
                        "l", "i", "ng", "a", "q", "k", "h"})
_STEM_STOP = frozenset("处方 处方药 非处方药 冷链 药品 药物 开具 服用 购买 咨询 每日 每天 "
                       "继续 建议 要 的 和 与 及 或 买 用 吃 是 在 了 给 药".split())


class HealthTermRecognizer(CdpRecognizer):
    ENTITIES = (HEALTH_TERM,)

    def __init__(self, supported_language: str) -> None:
        super().__init__(supported_language)
        self._drug_words = drug_words()
        self._diagnoses = en_diagnosis_names()
        self._zh_names = zh_health_names()

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        spans: list[tuple[int, int, float]] = []
        has_cjk = _CJK.search(text) is not None
        if has_cjk:
            lexical = [(m.start(), m.end(), 0.85) for m in _ZH_LEXICON.finditer(text)]
            lexical += _zh_graph_names(text, self._zh_names, tokens_of(nlp_artifacts))
            spans += lexical
            # word formation only where the lexicon found nothing: its boundaries are surer
            spans += [s for s in self._zh_morphology(text, nlp_artifacts)
                      if all(s[1] <= a or s[0] >= b for a, b, _ in lexical)]
        if re.search(r"[A-Za-z]{3}", text):
            spans += [(m.start(), m.end(), 0.85) for m in _EN_LEXICON.finditer(text)]
            spans += [(m.start(), m.end(), 0.65) for m in _EN_SUFFIX.finditer(text)]
            spans += [(m.start(), m.end(), 0.7) for m in _EN_WORD.finditer(text)
                      if m.group().lower() in self._drug_words]
            spans += [(m.start(), m.end(), 0.65) for m in _EN_DISEASE.finditer(text)
                      if not _EN_NOT_DISEASE_HEAD.match(m.group())]
            spans += _en_diagnoses(text, self._diagnoses)
        merged = _merge(spans)
        if has_cjk:
            merged = _zh_extend(merged, tokens_of(nlp_artifacts))
        return [self.result(HEALTH_TERM, s, e, score, "health term") for s, e, score in merged]

    @staticmethod
    def _zh_morphology(text: str,
                       nlp_artifacts: NlpArtifacts | None) -> list[tuple[int, int, float]]:
        toks = tokens_of(nlp_artifacts)
        out: list[tuple[int, int, float]] = []
        for i, tok in enumerate(toks):
            # the tuple test first: most words end in no form, and it is one C call
            form = (next(f for f in ZH_DOSAGE_FORMS if tok.text.endswith(f))
                    if tok.text.endswith(ZH_DOSAGE_FORMS) else None)
            end = tok.end
            if form is None and tok.tag == "nw" and tok.text[0] in _SHORT_FORMS and i > 0:
                # jieba's HMM glued a one-character form to the next word: 控释|片到|了
                form, end = tok.text[0], tok.start + 1
            disease = (tok.text.endswith(ZH_DISEASE_SUFFIXES) and tok.text not in ZH_NOT_DISEASE
                       and _CJK.match(tok.text)) or tok.text in _INFECTION
            if form is None and not disease:
                continue
            j = _walk_left(toks, i, end, 14 if form else 10)
            start = toks[j].start if j < i else tok.start
            body = text[start:end]
            if form is not None:
                if end - start - len(form) < 2 or body.startswith(ZH_NOT_DRUG_PREFIXES):
                    continue
                if all(t.tag in ("m", "q") for t in toks[j:i]) and len(tok.text) == len(form):
                    continue  # 三四片, 两盒: counts, not drugs
                out.append((start, end, 0.7))
            elif len(body) >= 2 and body not in ZH_NOT_DISEASE:
                out.append((start, end, 0.65))
        return out


_ZH_GRAPH_SCORE = {"disease": 0.85, "drug": 0.85, "stem": 0.75}


def _zh_graph_names(text: str, names: ZhHealthNames,
                    toks: list[Tok]) -> list[tuple[int, int, float]]:
    """CMeKG's disease and medicine names in ``text``, the longest at each place. A name of
    two characters counts only as a whole jieba word (天花 is smallpox, 天花板 a ceiling)."""
    starts = {t.start for t in toks}
    ends = {t.end for t in toks}
    out: list[tuple[int, int, float]] = []
    i, n = 0, len(text)
    while i < n - 1:
        lengths = names.lengths.get(text[i:i + 2])
        if lengths:
            for length in lengths:
                kind = names.kinds.get(text[i:i + length]) if i + length <= n else None
                if kind is None or kind == "symptom":
                    continue
                if length == 2 and not (i in starts and i + 2 in ends):
                    continue
                out.append((i, i + length, _ZH_GRAPH_SCORE[kind]))
                i += length - 1
                break
        i += 1
    return out


def _en_diagnoses(text: str, names: DiagnosisNames) -> list[tuple[int, int, float]]:
    """ICD-10-CM condition names in ``text``, the longest name first at each word; the words
    of a name must be separated by single spaces, as the list writes them."""
    words = [(m.start(), m.end(), m.group().lower()) for m in _EN_TERM_WORD.finditer(text)]
    out: list[tuple[int, int, float]] = []
    i = 0
    while i < len(words):
        start, end, word = words[i]
        taken = 0
        if word in names.phrase_starts:
            j, phrase = i, word
            while j + 1 < len(words) and j + 1 - i < names.longest \
                    and words[j][1] + 1 == words[j + 1][0] and text[words[j][1]] == " ":
                j += 1
                phrase += " " + words[j][2]
                if phrase in names.phrases:
                    taken, end = j - i + 1, words[j][1]
        if not taken and word in names.words:
            taken = 1
        if taken:
            out.append((start, end, 0.7))
            i += taken
        else:
            i += 1
    return out


def _merge(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Merge overlapping spans, keeping the highest score."""
    merged: list[list] = []
    for s, e, score in sorted(spans):
        if merged and s < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
            merged[-1][2] = max(merged[-1][2], score)
        else:
            merged.append([s, e, score])
    return [(s, e, score) for s, e, score in merged]


_INFECTION = frozenset({"感染", "综合征", "症", "病", "炎"})
_SHORT_FORMS = frozenset("片丸散栓")
# Tags a drug or disease name can be built from in jieba's output, including words its HMM
# invented (nw) and verbs inside a name (控释, 突出); see _walk_left for the trimming.
_NAME_PART_TAGS = _STEM_TAGS | {"nw", "v", "vn", "r", "ag", "zg", "t", "nrt"}
# Leading parts that are never the start of a name: pronouns, verbs, adverbs, particles.
_TRIM_TAGS = frozenset({"r", "v", "vn", "d", "p", "c", "u", "uj", "ul", "uz", "ud", "ug", "y",
                        "zg", "m", "q"})
_WALK_STOP = _STEM_STOP | frozenset("患者 病人 家属 主诉 自述 诊断 既往 病史 目前 已 有 无 伴 "
                                    "反映 咨询 确诊 患有 得了 说".split())


def _walk_left(toks: list[Tok], i: int, end: int, limit: int) -> int:
    """Index of the first token of the name ending with token ``i``: walk left over
    name-like tokens (at most ``limit`` characters), then drop leading function words."""
    j = i
    while j > 0:
        prev = toks[j - 1]
        if (prev.tag not in _NAME_PART_TAGS or prev.text in _WALK_STOP or prev.text.isspace()
                or prev.text.endswith(("药", "药品")) or end - prev.start > limit):
            break
        j -= 1
    while j < i and (toks[j].tag in _TRIM_TAGS or toks[j].text in _WALK_STOP):
        j += 1
    return j


_MODIFIER_END = ("性", "期", "型")
_SEQUELA = frozenset({"后遗症", "并发症"})


def _zh_extend(spans: list[tuple[int, int, float]],
               toks: list[Tok]) -> list[tuple[int, int, float]]:
    """Widen Chinese health spans to the words that belong to the diagnosis: a modifier
    before it (缺铁性|贫血, 妊娠期|高血压) and a sequela after it (脑梗死|后遗症)."""
    if not toks:
        return spans
    by_end = {t.end: t for t in toks}
    by_start = {t.start: t for t in toks}
    out: list[tuple[int, int, float]] = []
    for s, e, score in spans:
        prev = by_end.get(s)
        if prev is not None and len(prev.text) >= 2 and prev.text.endswith(_MODIFIER_END) \
                and _CJK.match(prev.text) and prev.tag not in _TRIM_TAGS:
            s = prev.start
        nxt = by_start.get(e)
        if nxt is not None and nxt.text in _SEQUELA:
            e = nxt.end
        out.append((s, e, score))
    return _merge(out)
