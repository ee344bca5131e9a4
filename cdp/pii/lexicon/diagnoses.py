"""English diagnosis names from ICD-10-CM (``en_diagnoses.txt`` beside this module, built by
scripts/build_en_diagnoses.py from the tabular list the ``simple-icd-10-cm`` package ships;
the classification is US-government work in the public domain). About 9,000 names of
conditions (rosacea, sciatica, seborrheic dermatitis, type 2 diabetes mellitus), read once
per process: the hand list in ``health.py`` names the commonest, this one the rest."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

_FILE = Path(__file__).with_name("en_diagnoses.txt")


@dataclass(frozen=True)
class DiagnosisNames:
    words: frozenset[str]            # one-word names
    phrases: frozenset[str]          # names of two words or more, words joined by one space
    phrase_starts: frozenset[str]    # first words of the phrases: most words start none
    longest: int                     # words in the longest phrase


@functools.cache
def en_diagnosis_names() -> DiagnosisNames:
    """The names, lower-cased. The file is part of the package: its absence is a broken
    install, not a reason to redact less, so it is not caught."""
    names = [line for line in _FILE.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    phrases = frozenset(n for n in names if " " in n)
    return DiagnosisNames(
        words=frozenset(n for n in names if " " not in n),
        phrases=phrases,
        phrase_starts=frozenset(p.split(" ", 1)[0] for p in phrases),
        longest=max((p.count(" ") + 1 for p in phrases), default=1),
    )
