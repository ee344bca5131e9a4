"""Redact text under a named operator set; what ingest stores at rest and views render."""

from __future__ import annotations

from dataclasses import dataclass, field

from cdp.pii.entities import Entity
from cdp.pii.operators import OPERATORS
from cdp.pii.policy import load_policy
from cdp.pii.scan import scan_text


@dataclass
class RedactionResult:
    """The transformed text and the entities found in the original (offsets into it)."""

    text: str
    entities: list[Entity] = field(default_factory=list)


def redact_text(text: str, policy: str = "storage", *, key: bytes | None = None,
                language: str | None = None) -> RedactionResult:
    """Scan ``text`` and apply the operator set ``policy`` (a file in ``policies/pii``) to
    every detected entity. ``key`` feeds the ``pseudonym`` and ``encrypt`` operators."""
    op_set = load_policy(policy)
    entities = scan_text(text, language)
    return RedactionResult(text=apply_operators(text, entities, op_set, key),
                           entities=entities)


def apply_operators(text: str, entities: list[Entity], op_set, key: bytes | None) -> str:
    """Rebuild ``text`` with each (non-overlapping, sorted) entity transformed."""
    out: list[str] = []
    pos = 0
    for ent in entities:
        rule = op_set.rule_for(ent.type)
        params = {k: v for k, v in rule.items() if k != "operator"}
        out.append(text[pos : ent.start])
        out.append(OPERATORS[rule["operator"]](text[ent.start : ent.end], ent.type, params, key))
        pos = ent.end
    out.append(text[pos:])
    return "".join(out)
