"""Redact text under a named operator set; what ingest stores at rest and views render."""

from __future__ import annotations

from dataclasses import dataclass, field

from cdp.pii.entities import Entity
from cdp.pii.operators import ENC_TOKEN, OPERATORS, decrypt_token
from cdp.pii.policy import OperatorSet, load_policy
from cdp.pii.scan import scan_text
from cdp.policyfiles import PolicyFiles


@dataclass
class RedactionResult:
    """The transformed text and the entities found in the original (offsets into it)."""

    text: str
    entities: list[Entity] = field(default_factory=list)


def redact_text(text: str, policy: str = "storage", key: bytes | None = None, *,
                language: str | None = None,
                policies: PolicyFiles | None = None) -> RedactionResult:
    """Scan ``text`` and apply the operator set ``policy`` (a file in ``policies/pii``) to
    every detected entity scoring at least the set's threshold for its type. ``key`` feeds the
    ``pseudonym`` and ``encrypt`` operators; ``policies`` is the platform's policy files
    (without one, those of ``Config.from_env()``)."""
    op_set = load_policy(policy, policies)
    entities = scan_text(text, language, min_score=op_set.threshold_for)
    return RedactionResult(text=apply_operators(text, entities, op_set, key),
                           entities=entities)


def redact_for(text: str | None, policy_name: str, key: bytes | None = None, *,
               language: str | None = None, policies: PolicyFiles | None = None) -> str | None:
    """``text`` rendered for a role view or export profile: the access and export layers'
    one call. ``policy_name`` names a file in ``policies/pii`` (``redacted``, ``masked``,
    ``pharmacy_care``, ``pseudonymised``...); an unknown name raises ValidationError rather
    than falling back to showing the text. None and blank text come back unchanged."""
    op_set = load_policy(policy_name, policies)
    if text is None or not text.strip():
        return text
    return apply_operators(text, scan_text(text, language, min_score=op_set.threshold_for),
                           op_set, key)


def restore_encrypted(text: str, key: bytes) -> str:
    """Undo the ``encrypt`` operator: every ``<enc:TYPE:...>`` span in ``text`` is opened
    with ``key`` (AES-256-GCM; a tampered or foreign span raises DecryptionError)."""
    return ENC_TOKEN.sub(lambda m: decrypt_token(key, m.group(0))[1], text)


def apply_operators(text: str, entities: list[Entity], op_set: OperatorSet,
                    key: bytes | None) -> str:
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
