"""Chinese disease and medicine names from CMeKG (``zh_health_terms.txt`` beside this
module, built by scripts/build_zh_health_terms.py from the knowledge graph the ``PyCMeKG``
package ships): about 7,500 diseases with their other names, 9,500 medicines with their
dosage forms, 5,200 generic names without them, and short symptom names (which are not
health terms by themselves, but never a person's name). Read once per process; the hand
lists in ``health.py`` and the recognizer's word formation cover what is not here."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

_FILE = Path(__file__).with_name("zh_health_terms.txt")


@dataclass(frozen=True)
class ZhHealthNames:
    kinds: dict[str, str]                    # name -> disease | drug | stem | symptom
    lengths: dict[str, tuple[int, ...]]      # first two characters -> name lengths, longest first


@functools.cache
def zh_health_names() -> ZhHealthNames:
    """The names. The file is part of the package: its absence is a broken install."""
    kinds: dict[str, str] = {}
    for line in _FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            kind, name = line.split("\t")
            kinds[name] = kind
    by_prefix: dict[str, set[int]] = {}
    for name in kinds:
        by_prefix.setdefault(name[:2], set()).add(len(name))
    return ZhHealthNames(kinds, {p: tuple(sorted(ls, reverse=True)) for p, ls in by_prefix.items()})
