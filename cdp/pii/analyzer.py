"""The process-wide Presidio AnalyzerEngine, built once, offline, and shared."""

from __future__ import annotations

import gc
import logging
import threading

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

from cdp.pii.context import SelectiveContextEnhancer
from cdp.pii.lexicon.drug_vocabulary import drug_words
from cdp.pii.nlp_engine import OfflineNlpEngine
from cdp.pii.offline import offline_tld_extractor

LANGUAGES = ("zh", "en")
# Below this a candidate is not reported by default (``cdp pii scan``, policies that set no
# ``min_score``). Checksum-validated numbers start above it; pattern-only ones (passport
# numbers) need a context word to reach it.
SCORE_THRESHOLD = 0.5
# The engine keeps candidates down to this score, so that a recall-first policy (storage
# redaction, ``min_score = 0.4``) can use them; no policy may ask for less.
SCAN_FLOOR = 0.4

_lock = threading.Lock()
_analyzer: AnalyzerEngine | None = None


def build_analyzer() -> AnalyzerEngine:
    """A new AnalyzerEngine with our NLP engine and recognizers (no predefined ones)."""
    from cdp.pii.recognizers import build_recognizers

    # Presidio logs the words around each match at DEBUG ("Context list is: 13812345678
    # ..."), i.e. the personal data itself: keep its loggers at WARNING whatever the root
    # level is.
    for name in ("presidio-analyzer", "presidio-anonymizer"):
        logging.getLogger(name).setLevel(logging.WARNING)
    offline_tld_extractor()
    # The drug dictionary is unpickled whole (~60 MB) and trimmed to a word set; doing it
    # before jieba loads lets that memory be reused, keeping the process's peak lower.
    drug_words()
    gc.collect()
    nlp_engine = OfflineNlpEngine()
    nlp_engine.load()
    registry = RecognizerRegistry(recognizers=build_recognizers(LANGUAGES),
                                  supported_languages=list(LANGUAGES))
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=list(LANGUAGES),
        default_score_threshold=SCAN_FLOOR,
        context_aware_enhancer=SelectiveContextEnhancer(
            context_similarity_factor=0.35,
            min_score_with_context_similarity=0.6,
            context_prefix_count=6,
            context_suffix_count=1,
        ),
    )


def get_analyzer() -> AnalyzerEngine:
    """The process-wide analyzer: built on first use (thread-safe), then reused."""
    global _analyzer
    if _analyzer is None:
        with _lock:
            if _analyzer is None:
                _analyzer = build_analyzer()
                # The engine's dictionaries and models (jieba, the drug and name lexicons:
                # millions of objects) live as long as the process: frozen, CPython's cyclic
                # collector no longer walks them in every full collection (a pause of
                # 100+ ms each time, in the middle of whatever request or batch ran).
                gc.collect()
                gc.freeze()
    return _analyzer
