#!/usr/bin/env python
"""Build cdp/pii/lexicon/en_diagnoses.txt: English diagnosis names from ICD-10-CM.

    pip install -e '.[dev]'          # brings simple-icd-10-cm (its data: CMS's ICD-10-CM)
    python scripts/build_en_diagnoses.py            # rewrite the committed file
    python scripts/build_en_diagnoses.py --check    # exit 1 when the file is out of date

Source: the ICD-10-CM tabular list that the ``simple-icd-10-cm`` package (MIT) ships. The
classification itself is a work of the US government (CDC/NCHS, CMS), in the public domain.
Only the chapters of diseases are read (codes A-N, O, Q): symptoms (R), injuries (S-T),
external causes (V-Y) and encounters (Z) are phrased as everyday words ("Fall", "Cough",
"Contact with...") that would flood free text with false alarms.

From each description and inclusion term, the name of the condition is kept, not the
qualifiers: parenthesised and bracketed parts are dropped, then the text is cut at the first
comma, "NOS", or joining word (of, with, due to, in, following), and a leading "Other" or
"Unspecified" removed ("Pleurisy with effusion" -> pleurisy, "Rosacea, unspecified" ->
rosacea, "Fatty (change of) liver" -> fatty liver). A name is kept when it has one to four
words and no function word, and does not end in a generic word (``GENERIC_LAST``) when all
its words are common ("abnormal product", "initial stage"). A one-word name is kept when
ordinary English hardly uses it (not in wordfreq's list of words used once per million or
more), or when it is the whole
description and used less than about 16 times per million words (asthma, gout, migraine);
never when it is a given name, one of the 5,000 commonest US surnames, an acronym, or one
of the words listed in ``EVERYDAY`` below, which ICD uses as names of conditions but
English text mostly uses otherwise (scar, plague; deletions, sequestration: the words of
"X of Y" names, checked against the READMEs of the installed packages).
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET  # noqa: S405 - a data file inside a pinned, installed package
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import generated_list  # noqa: E402 - after the path: run as a file

OUT = generated_list.ROOT / "cdp" / "pii" / "lexicon" / "en_diagnoses.txt"
CHAPTERS = frozenset("ABCDEFGHIJKLMNOQ")
# Words ICD-10-CM uses as a condition's whole name that English text mostly uses otherwise.
EVERYDAY = frozenset("""plague boil worms scar itch instability felon transgender tic
infestation overweight cramp fits shock stress burn sprain fall contact
deletions duplications sequestration overproduction elaboration translucency transposition
disproportion isomerism nonfunctioning overhanging wedging webbing mottling puckering dens
fluor operculum tetralogy pentalogy achromic hyperfunction granulation exfoliation adhesions
abnormality""".split())
# Last words that make a name of common words a description, not a condition: "Abnormal
# products of conception" would otherwise flag "abnormal product" in a complaint.
GENERIC_LAST = frozenset("""product products stage stages variant form forms absence change
changes level application complications trial episode causes state medium hole bridge
aesthetic fluids involvement perception doubling crisis component curve formation closure
spacing lobe portions limitation interference discomfort guidance length margins overlap
categories category vessels abnormalities displacement rotation delivery conditions
condition""".split())
COMMON_ZIPF = 3.5   # about three uses per million words
_FUNCTION = re.compile(
    r"\b(?:of|with|without|and|or|in|to|due|following|complicating|affecting|associated|"
    r"involving|by|for|at|from|as|on|other|not|elsewhere|classified|specified|unspecified|site|"
    r"sites|type|types|part|parts|than|more|less|any|all|the|a|an|its|is|are|was|except|"
    r"status|history|encounter|left|right|bilateral|code|codes)\b", re.IGNORECASE)
_LEAD = re.compile(r"^(?:(?:other|unspecified|other specified)\s+)+", re.IGNORECASE)
_HEAD = re.compile(r"([^,;:]*?)(?=,|;|:| NOS\b| of | with | without | due to | in | following |$)")
_WHOLE = re.compile(r"(?:,\s*unspecified.*|\s*NOS|,\s*not elsewhere classified)?", re.IGNORECASE)
_PHRASE = re.compile(r"[A-Za-z][A-Za-z0-9'\-]*(?: [A-Za-z0-9][A-Za-z0-9'\-]*){0,3}")
RARE_ZIPF = 3.0     # below wordfreq's small list: once per million words or rarer
WHOLE_ZIPF = 4.2    # a whole description as common as about 16 per million words
COMMON_SURNAME_RANK = 5000


def _tabular() -> Path:
    data = generated_list.package_dir("simple_icd_10_cm", "simple-icd-10-cm") / "data"
    found = sorted(data.glob("icd10*-tabular-*.xml"))
    if not found:
        sys.exit(f"no ICD-10-CM tabular list under {data}")
    return found[-1]


def condition_name(text: str, zipf: Callable[[str], float],
                   given_names: frozenset[str]) -> str | None:
    """The name of the condition in one ICD-10-CM description, lower-cased, or None."""
    t = re.sub(r"\s*[\(\[][^\)\]]*[\)\]]", "", text)
    t = _LEAD.sub("", re.sub(r"\s+", " ", t).strip())
    m = _HEAD.match(t)
    head = m.group(1).strip() if m else ""
    if not head or not _PHRASE.fullmatch(head) or _FUNCTION.search(head):
        return None
    low = head.lower()
    words = low.split()
    if len(words) > 1 and words[-1] in GENERIC_LAST and all(zipf(w) >= COMMON_ZIPF for w in words):
        return None
    if " " not in head:
        if head.isupper() or low in EVERYDAY or low in given_names:
            return None
        z = zipf(low)
        whole = _WHOLE.fullmatch(t[len(head):]) is not None
        if not (z < RARE_ZIPF or (whole and z < WHOLE_ZIPF)):
            return None
    return low


def build() -> str:
    from cdp.pii.lexicon.census_names import given_names, surnames
    from cdp.pii.lexicon.en_wordfreq import zipf
    from cdp.pii.lexicon.names import EN_FIRST_NAMES

    # a one-word "diagnosis" that is also a name would redact people as conditions
    given = frozenset(n.lower() for n in EN_FIRST_NAMES) | {n.lower() for n in given_names()}
    given |= {n.lower() for n, rank in surnames().items() if rank <= COMMON_SURNAME_RANK}
    path = _tabular()
    root = ET.parse(path).getroot()  # noqa: S314 - see the import
    names: set[str] = set()
    for diag in root.iter("diag"):
        code = diag.findtext("name") or ""
        if code[:1] not in CHAPTERS:
            continue
        texts = [diag.findtext("desc") or ""]
        texts += [note.text or "" for note in diag.findall("inclusionTerm/note")]
        for text in texts:
            name = condition_name(text, zipf, given)
            if name:
                names.add(name)
    header = (f"# English diagnosis names from ICD-10-CM ({path.name}, chapters A-N, O, Q; public\n"
              "# domain, shipped by the simple-icd-10-cm package, MIT). Generated by\n"
              "# scripts/build_en_diagnoses.py; do not edit by hand.\n")
    return header + "".join(f"{n}\n" for n in sorted(names))


if __name__ == "__main__":
    generated_list.main(build, OUT, __file__, __doc__ or "")
