"""Presidio's lemma context enhancer, applied only where it can change something."""

from __future__ import annotations

from bisect import bisect_right

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer, LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts

from cdp.pii.nlp_engine import OfflineNlpArtifacts


class SelectiveContextEnhancer(LemmaContextAwareEnhancer):
    """The stock enhancer's rule, run only on results whose recognizer declares context words
    and whose score can still rise.

    The stock one deep-copies every result before raising scores and re-walks the tokens for
    each, which on short notes costs more than the recognizers themselves. Here the results
    are raised in place: the engine made them for this one call and keeps only what this
    returns. The words around a match are the stock method's (found faster, below) and the
    matching of context words is its own method, so scores are exactly its scores."""

    def enhance_using_context(self, text: str, raw_results: list[RecognizerResult],
                              nlp_artifacts: NlpArtifacts,
                              recognizers: list[EntityRecognizer],
                              context: list[str] | None = None) -> list[RecognizerResult]:
        by_id = {r.id: r for r in recognizers if r.context}
        todo: list[tuple[RecognizerResult, EntityRecognizer]] = []
        done: list[RecognizerResult] = []
        for res in raw_results:
            meta = res.recognition_metadata or {}
            rec = by_id.get(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if (rec is not None and res.score < self.MAX_SCORE
                    and not meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY)):
                todo.append((res, rec))
            else:
                done.append(res)
        if not todo or nlp_artifacts is None:
            return done + [res for res, _ in todo]
        extra = [w.lower() for w in context] if context else []
        for res, rec in todo:
            words = self._extract_surrounding_words(
                nlp_artifacts=nlp_artifacts, word=text[res.start : res.end], start=res.start)
            words.extend(extra)
            supportive = self._find_supportive_word_in_context(words, rec.context,
                                                               self.context_matching_mode)
            if supportive != "":
                score = max(res.score + self.context_similarity_factor,
                            self.min_score_with_context_similarity)
                res.score = min(score, ContextAwareEnhancer.MAX_SCORE)
                res.analysis_explanation.set_supportive_context_word(supportive)
                res.analysis_explanation.set_improved_score(res.score)
        return done + [res for res, _ in todo]

    def _extract_surrounding_words(self, nlp_artifacts: NlpArtifacts, word: str,
                                   start: int) -> list[str]:
        """The stock method's words, found faster: the match's token by bisection over the
        token ends (tokens are in order and do not overlap), and the keyword test against a
        set (the stock one scans the text's keyword list for every word it looks at)."""
        if not nlp_artifacts.tokens or not isinstance(nlp_artifacts, OfflineNlpArtifacts):
            return super()._extract_surrounding_words(nlp_artifacts, word, start)
        # the stock rule: the first token starting at ``start`` or ending after it
        ends = nlp_artifacts.token_ends
        index = bisect_right(ends, start)
        if index >= len(ends):  # the stock method raises its error
            return super()._extract_surrounding_words(nlp_artifacts, word, start)
        keywords = nlp_artifacts.keyword_set
        lemmas = nlp_artifacts.lemmas
        words = (_n_words(index, self.context_prefix_count, lemmas, keywords, -1)
                 + _n_words(index, self.context_suffix_count, lemmas, keywords, 1))
        return list(set(words))


def _n_words(index: int, n_words: int, lemmas: list[str], keywords: frozenset[str],
             step: int) -> list[str]:
    """LemmaContextAwareEnhancer._add_n_words: up to ``n_words`` + 1 keyword lemmas from
    ``index`` on, in the direction ``step`` (the match's own token counts, as there)."""
    out: list[str] = []
    remaining = n_words + 1
    i = index
    while 0 <= i < len(lemmas) and remaining > 0:
        lower = lemmas[i].lower()
        if lower in keywords:
            out.append(lower)
            remaining -= 1
        i += step
    return out
