"""Free text re-redacted for a view (the pharmacist's ``pharmacy_care``) from the stored
ingest-time redaction: exactly what a fresh scan gives, and a scan whenever the stored
redaction does not determine the spans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cdp.access import freetext
from cdp.access.freetext import _unique_split, render_text, spans_from_redaction
from cdp.pii.policy import load_policy
from cdp.pii.redact import apply_operators, redact_text
from cdp.pii.scan import scan_texts
from tests.access.fixtures import FULL_RECORD, ingest
from tests.logcheck import register_sensitive

POLICY = "pharmacy_care"


def _stored(text: str) -> tuple[str, list[str]]:
    """What ingest stores: the storage redaction and the entity types found."""
    storage = load_policy("storage")
    [found] = scan_texts([text], min_score=storage.threshold_for)
    return (
        apply_operators(text, found, storage, None),
        sorted({e.type for e in found}),
    )


def _generated_notes(tmp_path: Path, people: int = 120) -> list[str]:
    from scripts.generate_records import generate

    path = tmp_path / "notes.jsonl"
    generate(people, 5, path)
    notes: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        for it in json.loads(line).get("interactions") or []:
            if isinstance(it, dict) and it.get("text"):
                notes.append(it["text"])
    return list(dict.fromkeys(notes))


def test_generated_notes_render_as_a_fresh_scan_without_scanning(tmp_path: Path) -> None:
    notes = _generated_notes(tmp_path)
    assert len(notes) >= 30
    register_sensitive(notes)
    stored = [_stored(n) for n in notes]
    freetext.forget()
    before = dict(freetext.stats)
    for note, (redacted, types) in zip(notes, stored, strict=True):
        expected = redact_text(note, POLICY).text
        assert render_text(note, POLICY, text_redacted=redacted, entity_types=types) == expected
    assert freetext.stats["aligned"] - before["aligned"] == len(notes)
    assert freetext.stats["scanned"] == before["scanned"]


@pytest.mark.parametrize(
    ("text", "literals", "expected"),
    [
        ("call AB at 123 ok", ["call ", " at ", " ok"], [(5, 7), (11, 14)]),
        ("AB", ["", ""], [(0, 2)]),
        ("xAB", ["x", ""], [(1, 3)]),
        ("axbybzc", ["a", "b", "c"], None),  # "x" + "ybz" or "xby" + "z": ambiguous
        ("abc", ["", "", ""], None),  # two adjacent spans: any split fits
        ("abc", ["a", "c"], [(1, 2)]),
        ("abc", ["a", "d"], None),  # does not fit
        ("ac", ["a", "c"], None),  # a span is never empty
        ("same", ["same"], []),
        ("same", ["other"], None),
    ],
)
def test_unique_split(text: str, literals: list[str], expected: Any) -> None:
    assert _unique_split(text, literals) == expected


def test_a_note_quoting_a_tag_is_scanned() -> None:
    note = "客户说短信里写着<PHONE_NUMBER>，联系电话13987654321"
    register_sensitive(["13987654321"])
    redacted, types = _stored(note)
    assert "PHONE_NUMBER" in types
    assert spans_from_redaction(note, redacted, types) is None
    freetext.forget()
    scanned = freetext.stats["scanned"]
    out = render_text(note, POLICY, text_redacted=redacted, entity_types=types)
    assert out == redact_text(note, POLICY).text and "13987654321" not in out
    assert freetext.stats["scanned"] == scanned + 1
    # The same note again: answered from the memo (keyed by a keyed hash, spans only).
    memo = freetext.stats["memo"]
    assert render_text(note, POLICY, text_redacted=redacted, entity_types=types) == out
    assert freetext.stats["memo"] == memo + 1
    assert all(isinstance(k, bytes) and len(k) == 32 for k in freetext._memo)
    assert all(note not in repr(v) for v in freetext._memo.values())


def test_a_stored_redaction_that_does_not_fit_is_not_trusted() -> None:
    note = "联系电话13987654321，药品包装破损"
    register_sensitive(["13987654321"])
    redacted, types = _stored(note)
    # Stale or foreign stored forms: another text, a type not recorded, no tags at all.
    assert spans_from_redaction("另一段文字", redacted, types) is None
    assert spans_from_redaction(note, redacted, []) is None
    assert spans_from_redaction(note, note.replace("1398", "****"), types) is None
    # Whatever is passed, the output is the fresh scan's.
    for red, ts in ((None, None), ("另一段文字", types), (redacted, ["PERSON"])):
        out = render_text(note, POLICY, text_redacted=red, entity_types=ts)
        assert out == redact_text(note, POLICY).text and "13987654321" not in out


def test_a_storage_operator_that_keeps_values_is_not_aligned(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    note = "联系电话13987654321"
    redacted, types = _stored(note)

    class MaskingStorage:
        def rule_for(self, _t: str) -> dict[str, Any]:
            return {"operator": "mask", "keep_start": 3}

    real = freetext.load_policy
    monkeypatch.setattr(
        freetext,
        "load_policy",
        lambda name, *rest: MaskingStorage() if name == freetext.STORAGE_POLICY else real(name, *rest),
    )
    assert spans_from_redaction(note, redacted, types) is None


def test_pharmacist_read_serves_the_aligned_rendering(client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [customer] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    note = FULL_RECORD["interactions"][0]["text"]
    freetext.forget()
    before = dict(freetext.stats)
    r = client.get(
        f"/v1/customers/{customer}",
        headers={**make_api_key("pharmacist"), "X-Purpose-Of-Use": "pharmacy_care"},
    )
    assert r.status_code == 200, r.get_json()
    [it] = r.get_json()["interactions"]
    assert it["text"] == redact_text(note, POLICY).text
    assert "13987654321" not in r.get_data(as_text=True)
    assert freetext.stats["aligned"] == before["aligned"] + 1
    assert freetext.stats["scanned"] == before["scanned"]


def test_storage_tags_that_are_not_self_delimiting_or_shared_are_not_aligned(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    note = "联系电话13987654321"
    redacted, types = _stored(note)
    real = freetext.load_policy
    for value in ("***", "[REDACTED]", "<a<b>"):

        class Storage:
            def rule_for(self, _t: str, value: str = value) -> dict[str, Any]:
                return {"operator": "replace", "value": value}

        storage = Storage()
        monkeypatch.setattr(
            freetext,
            "load_policy",
            lambda name, *rest, s=storage: s if name == freetext.STORAGE_POLICY else real(name, *rest),
        )
        assert spans_from_redaction(note, redacted, types) is None
        assert spans_from_redaction(note, note, []) == []

    class Shared:  # two types, one tag: the type of a span would be a guess
        def rule_for(self, _t: str) -> dict[str, Any]:
            return {"operator": "replace", "value": "<PII>"}

    monkeypatch.setattr(
        freetext,
        "load_policy",
        lambda name, *rest: Shared() if name == freetext.STORAGE_POLICY else real(name, *rest),
    )
    assert spans_from_redaction("张三 13987654321", "<PII> <PII>", ["PERSON", "PHONE_NUMBER"]) is None
