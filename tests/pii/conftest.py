"""PII tests share one analyzer per process (building it costs about two seconds)."""

from __future__ import annotations

import pytest

from cdp.pii.analyzer import get_analyzer


@pytest.fixture(scope="session")
def analyzer():
    return get_analyzer()


def found(text: str, language: str | None = None) -> list[tuple[str, str]]:
    """(type, surface text) of every entity detected in ``text``."""
    from cdp.pii.scan import scan_text

    return [(e.type, text[e.start : e.end]) for e in scan_text(text, language)]


def person_names(text: str, min_score: float = 0.5, language: str | None = None) -> list[str]:
    """The surface text of every PERSON the scan reports at ``min_score``."""
    from cdp.pii.scan import scan_text

    return [text[e.start : e.end] for e in scan_text(text, language, min_score=min_score)
            if e.type == "PERSON"]
