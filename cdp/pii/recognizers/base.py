"""Shared plumbing for our recognizers: result construction and negative context."""

from __future__ import annotations

import re

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

# Words that, just before a number, say it is a business reference and not personal data:
# order, waybill, approval, batch, invoice, ticket numbers; versions; the company hotline.
REFERENCE_WORDS = re.compile(
    r"(订单|单号|运单|快递|物流|工单|准字|批号|批次|生产|发票|编号|流水|版本|货号|条码|"
    r"order|tracking|waybill|batch|lot|invoice|ticket|approval|ref|sku|version|serial)",
    re.IGNORECASE,
)


class CdpRecognizer(EntityRecognizer):
    """Base for recognizers that validate candidates in code, not just by pattern."""

    ENTITIES: tuple[str, ...] = ()
    CONTEXT: tuple[str, ...] = ()
    # set by EntityRecognizer.__init__ (from ``name`` below); declared so mypy knows its type
    name: str

    def __init__(self, supported_language: str) -> None:
        super().__init__(
            supported_entities=list(self.ENTITIES),
            name=f"{type(self).__name__}_{supported_language}",
            supported_language=supported_language,
            context=list(self.CONTEXT),
        )

    def load(self) -> None:  # patterns are compiled at import time
        pass

    def result(self, entity: str, start: int, end: int, score: float,
               why: str) -> RecognizerResult:
        """A RecognizerResult carrying the metadata Presidio's context enhancer needs."""
        return RecognizerResult(
            entity_type=entity,
            start=start,
            end=end,
            score=score,
            analysis_explanation=AnalysisExplanation(
                recognizer=self.name, original_score=score, textual_explanation=why
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        raise NotImplementedError


def preceded_by_reference(text: str, start: int, window: int = 12) -> bool:
    """True when a business-reference word (order no., batch no., ...) closely precedes."""
    return REFERENCE_WORDS.search(text, max(0, start - window), start) is not None
