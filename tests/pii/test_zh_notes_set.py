"""The hand-labelled Chinese notes sets (scripts/pii_eval/zh_notes, its second and third sets
zh_notes_b and zh_notes_c, and the informal fourth to seventh sets zh_notes_d to zh_notes_g;
issue 15) are well formed:
every span's text is what its offsets cut out of the note, every type is one we score, and the
JSONL is exactly what the marked-up source builds. Cheap: no analyzer, no database."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from scripts.pii_eval.zh_notes.build_notes import (
    CODES,
    OUTPUT,
    STYLES,
    build,
    parse_line,
    set_files,
)

TYPES = set(CODES.values())
# Each set: (its marked-up source, its built JSONL). The checks below run on all seven.
NAMES = ["zh_notes", "zh_notes_b", "zh_notes_c", "zh_notes_d", "zh_notes_e", "zh_notes_f",
         "zh_notes_g"]
SETS = pytest.mark.parametrize(("source", "output"), [set_files(n) for n in NAMES], ids=NAMES)
# The informal sets keep to the styles where people write as they chat.
INFORMAL = {set_files(n)[1] for n in ("zh_notes_d", "zh_notes_e", "zh_notes_f", "zh_notes_g")}
INFORMAL_STYLES = {"chat", "complaint", "transcript", "ticket"}


def _notes(output: Path = OUTPUT) -> list[dict]:
    return [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]


@SETS
def test_every_span_matches_its_offsets_and_types_are_known(source: Path, output: Path) -> None:
    notes = _notes(output)
    assert len(notes) >= 300
    for note in notes:
        assert note["style"] in STYLES, note["id"]
        text = note["text"]
        previous_end = 0
        for ent in sorted(note["entities"], key=lambda e: e["start"]):
            assert ent["type"] in TYPES, (note["id"], ent)
            assert 0 <= ent["start"] < ent["end"] <= len(text), (note["id"], ent)
            assert text[ent["start"] : ent["end"]] == ent["text"], (note["id"], ent)
            # No span starts or ends in whitespace, and spans never overlap.
            assert ent["text"] == ent["text"].strip(), (note["id"], ent)
            assert ent["start"] >= previous_end, (note["id"], ent)
            previous_end = ent["end"]


@SETS
def test_ids_unique_and_set_keeps_its_shape(source: Path, output: Path) -> None:
    notes = _notes(output)
    assert len({n["id"] for n in notes}) == len(notes)
    assert len({n["text"] for n in notes}) == len(notes)
    styles = set(Counter(n["style"] for n in notes))
    assert styles == (INFORMAL_STYLES if output in INFORMAL else set(STYLES))
    without_names = [n for n in notes if not any(e["type"] == "PERSON" for e in n["entities"])]
    assert len(without_names) >= len(notes) // 4  # false alarms need name-free notes


@SETS
def test_jsonl_is_what_the_source_builds(source: Path, output: Path) -> None:
    stale = f"{output} is stale: run scripts/pii_eval/zh_notes/build_notes.py {output.parent.name}"
    assert build(source) == _notes(output), stale


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ticket\t[[王|Q]]先生", "unknown code"),
        ("tweet\t王先生", "bad style"),
        ("ticket\t[[王|P]先生", "unbalanced"),
    ],
)
def test_parser_rejects_malformed_lines(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_line(line)


def test_parser_offsets() -> None:
    style, text, ents = parse_line("chat\t谢谢[[王|P]]姐，寄到[[朝阳区建国路88号|L]]")
    assert (style, text) == ("chat", "谢谢王姐，寄到朝阳区建国路88号")
    assert [(text[e["start"] : e["end"]], e["type"]) for e in ents] == [
        ("王", "PERSON"),
        ("朝阳区建国路88号", "LOCATION"),
    ]


def test_guidelines_are_beside_the_set() -> None:
    assert (Path(OUTPUT).parent / "GUIDELINES.md").is_file()


def test_eval_scores_overlap_strict_and_title_aside() -> None:
    from scripts.pii_eval.zh_notes_eval import score

    text = "王先生和李娜来了"
    gold = [(0, 1), (4, 6)]  # 王 (title outside, as the guidelines say), 李娜
    m = score([(text, gold, [(0, 3), (4, 5), (6, 8)])])  # 王先生, 李, 来了
    assert (m["p"], m["r"]) == (2 / 3, 1.0)  # 来了 overlaps no name
    assert (m["sp"], m["sr"]) == (0.0, 0.0)  # no span has both boundaries right
    assert (m["tp"], m["tr"]) == (1 / 3, 0.5)  # 王先生 = 王 + a title
    assert score([(text, gold, [(0, 3)])], titles=False)["tr"] == 0.0
