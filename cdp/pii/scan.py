"""Scan text for personal data: the one function every other module calls."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from presidio_analyzer import AnalyzerEngine

from cdp.errors import ValidationError
from cdp.pii.allow import allowed_words
from cdp.pii.analyzer import SCORE_THRESHOLD, get_analyzer
from cdp.pii.entities import Entity
from cdp.pii.language import detect_language
from cdp.pii.nlp_engine import model_budget, prefetch_model_names

# Free-text fields are notes and messages; anything far larger is not one, and scanning
# cost grows with length, so we refuse it up front instead of hanging a worker.
MAX_TEXT_CHARS = 100_000


class TextTooLarge(ValidationError):
    """The text is longer than :data:`MAX_TEXT_CHARS` (message carries only the size)."""

    code = "text_too_large"


# A threshold: one score for every type, or a function of the entity type (a policy's
# ``OperatorSet.threshold_for``).
MinScore = float | Callable[[str], float]


def scan_text(text: str, language: str | None = None, *,
              analyzer: AnalyzerEngine | None = None,
              min_score: MinScore = SCORE_THRESHOLD) -> list[Entity]:
    """Detect personal data in ``text``.

    Returns non-overlapping entities sorted by position, with character offsets into
    ``text``, each scoring at least ``min_score`` (for its type, when a function); of
    overlapping candidates above it, the best-scoring wins. ``language`` is ``"zh"`` or
    ``"en"``; when None it is detected. Raises :class:`TextTooLarge` for texts over
    :data:`MAX_TEXT_CHARS` characters.
    """
    return select(candidates(text, language, analyzer=analyzer), min_score)


def select(found: Iterable[Entity], min_score: MinScore = SCORE_THRESHOLD) -> list[Entity]:
    """The candidates at or above the threshold, overlaps resolved."""
    if callable(min_score):
        keep = [e for e in found if e.score >= min_score(e.type)]
    else:
        keep = [e for e in found if e.score >= min_score]
    return resolve_overlaps(keep)


def candidates(text: str, language: str | None = None, *,
               analyzer: AnalyzerEngine | None = None) -> list[Entity]:
    """Every candidate the engine reports down to its floor (``SCAN_FLOOR``), overlapping
    ones included: what :func:`scan_text` selects from."""
    if not isinstance(text, str):
        raise ValidationError("text must be a string")
    if len(text) > MAX_TEXT_CHARS:
        raise TextTooLarge(f"text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    if not text.strip():
        return []
    if language not in ("zh", "en"):
        language = detect_language(text)
    engine = analyzer or get_analyzer()
    allow = allowed_words() or None
    found: list[Entity] = []
    with model_budget(MODEL_MAX_CHARS):
        for offset, window, keep_before in windows(text):
            for r in engine.analyze(text=window, language=language, allow_list=allow):
                # an entity starting in the overlap belongs to the next window, which sees
                # it whole
                if r.start < keep_before:
                    found.append(Entity(r.entity_type, r.start + offset, r.end + offset,
                                        float(r.score)))
    return found


# The name model reads at most this many characters of one text (notes are far shorter);
# past it, windows are scanned by the rules alone, so a 100,000-character text stays prompt.
MODEL_MAX_CHARS = 20_000


# Results of recent scans, keyed by (text, language): channel notes repeat a lot ("订单状态已更新。",
# templated service notes), and a scan is deterministic, so a repeated text is answered from
# here. Bounded in entries and text length, so memory stays flat however long the stream is.
MEMO_ENTRIES = 20_000
MEMO_MAX_CHARS = 1_000
_memo: OrderedDict[tuple[str, str | None], tuple[Entity, ...]] = OrderedDict()
_memo_lock = threading.Lock()


def scan_texts(texts: Iterable[str], language: str | None = None, *,
               min_score: MinScore = SCORE_THRESHOLD) -> list[list[Entity]]:
    """:func:`scan_text` over many texts: one result list per text, in order, as calling
    :func:`scan_text` on each with the same ``min_score`` gives, exactly: the name model
    runs over the texts in batches of texts of one length, which give each text's own scores.

    Texts repeated within the call or seen recently by this process are scanned once
    (bounded memo of short texts); blank texts are not scanned at all. Raises what
    :func:`scan_text` raises, for the first text that is invalid.
    """
    texts = list(texts)
    with _memo_lock:
        fresh = [t for t in texts if isinstance(t, str) and (t, language) not in _memo
                 and t.strip() and len(t) <= WINDOW_CHARS]
    with prefetch_model_names(fresh):
        return _scan_each(texts, language, min_score)


@contextmanager
def prefetch(texts: Iterable[str], language: str | None = None) -> Iterator[None]:
    """Within the block, scans (in this thread) of any of ``texts`` find the name model's
    results computed here, in batches over all of them: for a caller about to scan many
    texts a few at a time (ingest scans each record's notes), the batching of
    :func:`scan_texts` across the whole lot. Texts the memo already answers are skipped."""
    with _memo_lock:
        fresh = [t for t in texts if isinstance(t, str) and (t, language) not in _memo
                 and t.strip() and len(t) <= WINDOW_CHARS]
    with prefetch_model_names(fresh):
        yield


def _scan_each(texts: list[str], language: str | None,
               min_score: MinScore) -> list[list[Entity]]:
    out: list[list[Entity]] = []
    local: dict[tuple[str, str | None], tuple[Entity, ...]] = {}
    for text in texts:
        if isinstance(text, str) and not text.strip() and len(text) <= MAX_TEXT_CHARS:
            out.append([])
            continue
        key = (text, language)
        found = local.get(key) if isinstance(text, str) else None
        if found is None and isinstance(text, str) and len(text) <= MEMO_MAX_CHARS:
            with _memo_lock:
                found = _memo.get(key)
                if found is not None:
                    _memo.move_to_end(key)
        if found is None:
            if not isinstance(text, str):
                raise ValidationError("text must be a string")
            found = tuple(candidates(text, language))
            if len(text) <= MEMO_MAX_CHARS:
                with _memo_lock:
                    _memo[key] = found
                    if len(_memo) > MEMO_ENTRIES:
                        _memo.popitem(last=False)
        local[key] = found
        out.append(select(found, min_score))
    return out


def clear_memo() -> None:
    """Forget remembered scan results (tests; after the recognizers change)."""
    with _memo_lock:
        _memo.clear()


# Long texts are analysed in overlapping windows: tokenisers and some Presidio steps cost
# more than linear time in the length of a text or in the number of results, so a window
# bounds the worst case (hostile or degenerate input) while ordinary notes, far shorter than
# a window, take one pass. The overlap is longer than any entity and its context words.
WINDOW_CHARS = 2_000
OVERLAP_CHARS = 200


def windows(text: str) -> list[tuple[int, str, int]]:
    """``(offset, window text, keep entities starting before this index)`` covering ``text``."""
    n = len(text)
    if n <= WINDOW_CHARS:
        return [(0, text, n + 1)]
    out = []
    start = 0
    step = WINDOW_CHARS - OVERLAP_CHARS
    while True:
        end = min(n, start + WINDOW_CHARS)
        last = end >= n
        out.append((start, text[start:end], (end - start + 1) if last else step))
        if last:
            return out
        start += step


def resolve_overlaps(entities: list[Entity]) -> list[Entity]:
    """Keep the best of overlapping detections: higher score first, then the longer span."""
    if not entities:
        return []
    # a coverage array keeps this linear in the number of entities (a text of 30,000
    # honorifics yields 30,000 of them)
    covered = bytearray(max(e.end for e in entities) + 1)
    chosen: list[Entity] = []
    for ent in sorted(entities, key=lambda e: (-e.score, -(e.end - e.start), e.start)):
        if not any(covered[ent.start : ent.end]):
            covered[ent.start : ent.end] = b"\x01" * (ent.end - ent.start)
            chosen.append(ent)
    return sorted(chosen, key=lambda e: e.start)
