"""Country, region and language names in English, from the CLDR data that Babel ships
(BSD-licensed package, Unicode licence data; Babel is already installed for the interface's
translations). A capitalised run that is one of them whole ("Sri Lanka", "United Arab
Emirates", "Jordan", "Urdu") is a place or a language, not a person, unless a cue says so."""

from __future__ import annotations

import functools


@functools.cache
def place_names() -> frozenset[str]:
    from babel import Locale

    en = Locale("en")
    names = set(en.territories.values()) | set(en.languages.values())
    out = set()
    for name in names:
        out.add(name)
        out.add(name.replace("&", "and"))
        out.add(name.replace("St.", "Saint"))
    return frozenset(out)
