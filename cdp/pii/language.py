"""Cheap zh/en language detection for routing text to the right recognizers."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def has_cjk(text: str) -> bool:
    """True when ``text`` holds at least one CJK ideograph."""
    return _CJK.search(text) is not None


def detect_language(text: str) -> str:
    """``"zh"`` when CJK ideographs make up a noticeable share of the letters, else ``"en"``.

    Mixed notes ("Hi客服，我是张伟") are routed to Chinese: the Chinese pipeline also runs
    the Latin-script recognizers, while the English one cannot read Chinese names.
    """
    sample = text[:4000]
    cjk = len(_CJK.findall(sample))
    if not cjk:
        return "en"
    latin_words = len(re.findall(r"[A-Za-z]+", sample))
    return "zh" if cjk >= 2 or cjk >= latin_words else "en"
