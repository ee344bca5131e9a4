"""Presidio's lemma context enhancer, applied only where it can change something."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts


class SelectiveContextEnhancer(LemmaContextAwareEnhancer):
    """Run the stock enhancer only on results whose recognizer declares context words and
    whose score can still rise; the stock one deep-copies and re-walks the tokens for every
    result, which on short notes costs more than the recognizers themselves."""

    def enhance_using_context(self, text: str, raw_results: list[RecognizerResult],
                              nlp_artifacts: NlpArtifacts,
                              recognizers: list[EntityRecognizer],
                              context: list[str] | None = None) -> list[RecognizerResult]:
        with_context = {r.id for r in recognizers if r.context}
        todo: list[RecognizerResult] = []
        done: list[RecognizerResult] = []
        for res in raw_results:
            rid = (res.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY)
            (todo if rid in with_context and res.score < self.MAX_SCORE else done).append(res)
        if not todo:
            return done
        return done + super().enhance_using_context(text, todo, nlp_artifacts, recognizers,
                                                    context)
