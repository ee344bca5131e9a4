"""E-mail addresses whose domain ends in a real public suffix (tldextract, offline)."""

from __future__ import annotations

import re
from functools import lru_cache

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from cdp.pii.entities import EMAIL_ADDRESS
from cdp.pii.offline import offline_tld_extractor
from cdp.pii.recognizers.base import CdpRecognizer

# Bounded quantifiers (RFC 5321 lengths) keep the scan linear on hostile input.
_PATTERN = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)


class EmailRecognizer(CdpRecognizer):
    ENTITIES = (EMAIL_ADDRESS,)
    CONTEXT = ("邮箱", "邮件", "email", "e-mail", "mail")

    def __init__(self, supported_language: str) -> None:
        super().__init__(supported_language)
        tld = offline_tld_extractor()

        # Notes use a few mail domains over and over (163.com, qq.com, gmail.com); the
        # suffix lookup is pure and costs more than the regex, so its answers are kept
        # (bounded: a stream of distinct domains cannot grow it).
        @lru_cache(maxsize=4096)
        def has_public_suffix(domain: str) -> bool:
            return bool(tld(domain).suffix)

        self._has_public_suffix = has_public_suffix

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if "@" not in text:
            return []
        results = []
        for m in _PATTERN.finditer(text):
            domain = m.group().rsplit("@", 1)[1]
            if not self._has_public_suffix(domain):
                continue
            results.append(self.result(EMAIL_ADDRESS, m.start(), m.end(), 0.9,
                                       "e-mail address with a public suffix"))
        return results
