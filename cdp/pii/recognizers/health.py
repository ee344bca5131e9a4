"""Health terms (diagnoses, drug names) as the sensitive-data type ``HEALTH_TERM``.

Three sources, all offline: a lexicon of diagnoses and drug stems (zh and en); Chinese
word formation over jieba tokens (a drug-like stem followed by a dosage form such as
缓释片/胶囊/注射液, a word ending in 炎/症/病); and English INN suffixes (-sartan,
-statin, -prazole...). Health data is sensitive personal information (PIPL art. 28), so the
access layer keys off this type.
"""

from __future__ import annotations

import re

from cdp.pii.entities import HEALTH_TERM
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
from cdp.pii.recognizers._tokens import tokens_of, trie_regex
from cdp.pii.recognizers.base import CdpRecognizer

_FORMS = "(?:" + "|".join(ZH_DOSAGE_FORMS) + ")"
_ZH_LEXICON = re.compile(
    "(?:" + trie_regex(ZH_DRUG_STEMS) + _FORMS + "?|" + trie_regex(ZH_DIAGNOSES) + ")"
)
_EN_LEXICON = re.compile(
    r"(?<![A-Za-z])(?:" + trie_regex({w for w in EN_DIAGNOSES | EN_DRUGS}) + r")(?![A-Za-z])",
    re.IGNORECASE,
)
_EN_SUFFIX = re.compile(r"(?<![A-Za-z])[a-z]{2,20}(?:" + "|".join(EN_DRUG_SUFFIXES)
                        + r")(?![A-Za-z])", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
# POS tags a drug-name stem can carry in jieba (nouns, names, numerals, bound morphemes,
# distinguishing words, foreign words); verbs, particles and punctuation end the stem.
_STEM_TAGS = frozenset({"n", "nz", "nr", "nrt", "nrfg", "ns", "nt", "b", "m", "g", "eng", "j",
                        "l", "i", "ng", "a", "q", "k", "h"})
_STEM_STOP = frozenset("处方 处方药 非处方药 冷链 药品 药物 开具 服用 购买 咨询 每日 每天 继续 建议 要 的 和 与 及 或 "
                       "买 用 吃 是 在 了 给 药".split())


class HealthTermRecognizer(CdpRecognizer):
    ENTITIES = (HEALTH_TERM,)

    def analyze(self, text, entities, nlp_artifacts=None):
        spans: list[tuple[int, int, float]] = []
        has_cjk = _CJK.search(text) is not None
        if has_cjk:
            lexical = [(m.start(), m.end(), 0.85) for m in _ZH_LEXICON.finditer(text)]
            spans += lexical
            # word formation only where the lexicon found nothing: its boundaries are surer
            spans += [s for s in self._zh_morphology(text, nlp_artifacts)
                      if all(s[1] <= a or s[0] >= b for a, b, _ in lexical)]
        if re.search(r"[A-Za-z]{3}", text):
            spans += [(m.start(), m.end(), 0.85) for m in _EN_LEXICON.finditer(text)]
            spans += [(m.start(), m.end(), 0.65) for m in _EN_SUFFIX.finditer(text)]
        return [self.result(HEALTH_TERM, s, e, score, "health term")
                for s, e, score in _merge(spans)]

    @staticmethod
    def _zh_morphology(text, nlp_artifacts) -> list[tuple[int, int, float]]:
        toks = tokens_of(nlp_artifacts)
        out = []
        for i, tok in enumerate(toks):
            form = next((f for f in ZH_DOSAGE_FORMS if tok.text.endswith(f)), None)
            if form is not None:
                stem_start = tok.start if len(tok.text) > len(form) else None
                j = i - 1
                while j >= 0 and toks[j].tag in _STEM_TAGS and toks[j].text not in _STEM_STOP \
                        and not toks[j].text.endswith(("药", "药品")) \
                        and (tok.end - toks[j].start) <= 14 and not toks[j].text.isspace():
                    stem_start = toks[j].start
                    j -= 1
                if stem_start is None or tok.end - stem_start - len(form) < 2:
                    continue
                name = text[stem_start : tok.end]
                if name.startswith(ZH_NOT_DRUG_PREFIXES):
                    continue
                out.append((stem_start, tok.end, 0.7))
                continue
            if (len(tok.text) >= 2 and tok.text.endswith(ZH_DISEASE_SUFFIXES)
                    and tok.text not in ZH_NOT_DISEASE and _CJK.match(tok.text)):
                out.append((tok.start, tok.end, 0.65))
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
