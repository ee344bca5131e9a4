"""Chinese disease and medicine names from CMeKG (``zh_health_terms.txt`` beside this
module, built by scripts/build_zh_health_terms.py from the knowledge graph the ``PyCMeKG``
package ships): about 7,500 diseases with their other names, 9,500 medicines with their
dosage forms, 5,200 generic names without them, and short symptom names (which are not
health terms by themselves, but never a person's name). Read once per process; the hand
lists in ``health.py`` and the recognizer's word formation cover what is not here."""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from pathlib import Path

_FILE = Path(__file__).with_name("zh_health_terms.txt")


@dataclass(frozen=True)
class ZhHealthNames:
    kinds: dict[str, str]                    # name -> disease | drug | stem | symptom
    lengths: dict[str, tuple[int, ...]]      # first two characters -> name lengths, longest first
    named: tuple[str, ...]                   # disease, drug and stem names, sorted
    medicines: tuple[str, ...]               # drug and stem names, sorted

    def begins_named(self, prefix: str) -> bool:
        """Whether a disease or medicine name begins with ``prefix`` (or is it)."""
        return _begins(self.named, prefix, 0)

    def begins_medicine_longer(self, prefix: str) -> bool:
        """Whether a medicine name longer than ``prefix`` begins with it (夏桑菊 of
        夏桑菊颗粒, 马应龙 of 马应龙麝香痔疮膏): how people shorten a medicine's name."""
        return _begins(self.medicines, prefix, len(prefix) + 1)


def _begins(names: tuple[str, ...], prefix: str, min_len: int) -> bool:
    i = bisect.bisect_left(names, prefix)
    while i < len(names) and names[i].startswith(prefix):
        if len(names[i]) >= min_len:
            return True
        i += 1
    return False


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
    return ZhHealthNames(
        kinds,
        {p: tuple(sorted(ls, reverse=True)) for p, ls in by_prefix.items()},
        named=tuple(sorted(n for n, k in kinds.items() if k != "symptom")),
        medicines=tuple(sorted(n for n, k in kinds.items() if k in ("drug", "stem"))),
    )
