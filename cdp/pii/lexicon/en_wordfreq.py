"""How common an English word is in ordinary text: wordfreq's small English list (the
``wordfreq`` PyPI package, Apache-2.0 code; its word lists, built from Wikipedia, subtitles,
news, books and the web, are CC BY-SA 4.0), ~29,000 words with a Zipf frequency of at least
3 (once per million words). Read once per process (~2 MB).

A capitalised word that English uses every day (Award, Academy, Cup, Political) is weak
evidence of a name even when a surname list holds it; a word the list does not hold at all
(Takagi, Kowalski, Shkvyrin) is, capitalised in running text, most often a name."""

from __future__ import annotations

import functools
import math


@functools.cache
def _zipf() -> dict[str, float]:
    from wordfreq import get_frequency_dict

    return {w: round(math.log10(f) + 9, 2)
            for w, f in get_frequency_dict("en", wordlist="small").items()}


def zipf(word: str) -> float:
    """The word's Zipf frequency (log10 of uses per billion words), 0 when rarer than 3."""
    w = word.lower().replace("’", "'")
    table = _zipf()
    return table.get(w) or table.get(w.replace("'", ""), 0.0)
