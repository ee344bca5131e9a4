"""Turn the sixth set's hand-marked notes (`notes.src.txt`) into `notes.jsonl`.

The same markup, parser and checks as the first set (`../zh_notes/build_notes.py`); the notes
follow `../zh_notes/GUIDELINES.md`. Run it after editing the source; the test suite checks that
the two files agree.

    python scripts/pii_eval/zh_notes_f/build_notes.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from scripts.pii_eval.zh_notes import build_notes  # noqa: E402

SOURCE = HERE / "notes.src.txt"
OUTPUT = HERE / "notes.jsonl"


def build(source: Path = SOURCE) -> list[dict]:
    """Parse this set's source into note objects with ids `<style>-NNN`."""
    return build_notes.build(source)


def main() -> int:
    return build_notes.main(SOURCE, OUTPUT)


if __name__ == "__main__":
    raise SystemExit(main())
