"""Turn the hand-written, hand-marked notes (`notes.src.txt`) into `notes.jsonl`.

Each source line is `style<TAB>text`, with every labelled span written inline as
`[[span|CODE]]`. This is only a labelling aid: the notes themselves are written by hand
(see GUIDELINES.md). Run it after editing the source; the test suite checks that the two
files agree. Every set (`zh_notes`, `zh_notes_b` ... `zh_notes_f`, each a folder beside this
one with the same markup and guidelines) is built by this script:

    python scripts/pii_eval/zh_notes/build_notes.py             # this folder's set
    python scripts/pii_eval/zh_notes/build_notes.py zh_notes_f  # another set
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "notes.src.txt"
OUTPUT = HERE / "notes.jsonl"


def set_files(name: str) -> tuple[Path, Path]:
    """(marked-up source, built JSONL) of the set in folder ``name`` beside this one."""
    folder = HERE.parent / name
    if not (folder / "notes.src.txt").is_file():
        raise SystemExit(f"no notes set {name!r} in {HERE.parent}")
    return folder / "notes.src.txt", folder / "notes.jsonl"

CODES = {
    "P": "PERSON",
    "L": "LOCATION",
    "T": "PHONE_NUMBER",
    "E": "EMAIL_ADDRESS",
    "I": "CN_RESIDENT_ID",
    "B": "BANK_CARD",
}
STYLES = ("ticket", "chat", "transcript", "pharmacist", "complaint", "delivery")
_MARK = re.compile(r"\[\[(.+?)\|([A-Z]+)\]\]")


def parse_line(line: str) -> tuple[str, str, list[dict[str, Any]]]:
    """Return (style, plain text, entities) for one source line; raise ValueError if malformed."""
    style, sep, marked = line.partition("\t")
    if not sep or style not in STYLES:
        raise ValueError(f"bad style or no tab: {line!r}")
    text_parts: list[str] = []
    entities: list[dict[str, Any]] = []
    pos = 0
    length = 0
    for match in _MARK.finditer(marked):
        before = marked[pos : match.start()]
        text_parts.append(before)
        length += len(before)
        span, code = match.group(1), match.group(2)
        if code not in CODES:
            raise ValueError(f"unknown code {code!r} in {line!r}")
        entities.append({"start": length, "end": length + len(span), "type": CODES[code], "text": span})
        text_parts.append(span)
        length += len(span)
        pos = match.end()
    text_parts.append(marked[pos:])
    text = "".join(text_parts)
    if "[[" in text or "]]" in text:
        raise ValueError(f"unbalanced mark in {line!r}")
    return style, text, entities


def build(source: Path = SOURCE) -> list[dict[str, Any]]:
    """Parse the whole source file into note objects with ids `<style>-NNN`."""
    counters: dict[str, int] = {}
    notes: list[dict[str, Any]] = []
    for raw in source.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        style, text, entities = parse_line(raw)
        counters[style] = counters.get(style, 0) + 1
        notes.append(
            {
                "id": f"{style}-{counters[style]:03d}",
                "style": style,
                "text": text,
                "entities": entities,
            }
        )
    return notes


def main(source: Path = SOURCE, output: Path = OUTPUT) -> int:
    """Build `source` and write it to `output` (by default this set's own files)."""
    notes = build(source)
    texts = [str(n["text"]) for n in notes]
    if len(set(texts)) != len(texts):
        dupes = {t for t in texts if texts.count(t) > 1}
        print(f"duplicate notes: {dupes}", file=sys.stderr)
        return 1
    with output.open("w", encoding="utf-8") as out:
        for note in notes:
            out.write(json.dumps(note, ensure_ascii=False) + "\n")
    print(f"{len(notes)} notes -> {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*set_files(sys.argv[1])) if len(sys.argv) > 1 else main())
