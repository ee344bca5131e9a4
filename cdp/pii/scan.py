"""Scan text for personal data: the one function every other module calls."""

from __future__ import annotations

from presidio_analyzer import AnalyzerEngine

from cdp.errors import ValidationError
from cdp.pii.analyzer import get_analyzer
from cdp.pii.entities import Entity
from cdp.pii.language import detect_language

# Free-text fields are notes and messages; anything far larger is not one, and scanning
# cost grows with length, so we refuse it up front instead of hanging a worker.
MAX_TEXT_CHARS = 100_000


class TextTooLarge(ValidationError):
    """The text is longer than :data:`MAX_TEXT_CHARS` (message carries only the size)."""

    code = "text_too_large"


def scan_text(text: str, language: str | None = None, *,
              analyzer: AnalyzerEngine | None = None) -> list[Entity]:
    """Detect personal data in ``text``.

    Returns non-overlapping entities sorted by position, with character offsets into
    ``text``. ``language`` is ``"zh"`` or ``"en"``; when None it is detected. Raises
    :class:`TextTooLarge` for texts over :data:`MAX_TEXT_CHARS` characters.
    """
    if not isinstance(text, str):
        raise ValidationError("text must be a string")
    if len(text) > MAX_TEXT_CHARS:
        raise TextTooLarge(f"text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    if not text.strip():
        return []
    if language not in ("zh", "en"):
        language = detect_language(text)
    engine = analyzer or get_analyzer()
    raw = engine.analyze(text=text, language=language)
    return resolve_overlaps([Entity(r.entity_type, r.start, r.end, float(r.score)) for r in raw])


def resolve_overlaps(entities: list[Entity]) -> list[Entity]:
    """Keep the best of overlapping detections: higher score first, then the longer span."""
    chosen: list[Entity] = []
    for ent in sorted(entities, key=lambda e: (-e.score, -(e.end - e.start), e.start)):
        if all(ent.end <= c.start or ent.start >= c.end for c in chosen):
            chosen.append(ent)
    return sorted(chosen, key=lambda e: e.start)
