"""Operator sets: which operator applies to which entity type, read from ``policies/pii``
through the platform's :class:`~cdp.policyfiles.PolicyFiles`.

One TOML file per named set (``storage``, ``masked``, ``redacted``, ``pseudonymised``...)::

    [default]                      # types the file does not name
    operator = "replace"

    [entities.PHONE_NUMBER]
    operator = "mask"
    keep_start = 3
    keep_end = 4

A type the file neither names nor covers by ``[default]`` is replaced by its tag: deny by
default, never leak.

Scores: a detection is acted on when its score reaches the set's threshold, ``min_score`` at
the top of the file or inside an entity's table (``[entities.PERSON] min_score = 0.4``);
without one, the engine's default (0.5). Storage redaction favours recall with a lower
threshold; views that people read keep the default. No threshold may go below the engine's
floor (``cdp.pii.analyzer.SCAN_FLOOR``): candidates under it are never kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cdp.config import Config
from cdp.errors import ValidationError
from cdp.pii.analyzer import SCAN_FLOOR, SCORE_THRESHOLD
from cdp.pii.operators import OPERATORS
from cdp.policyfiles import PolicyFiles, policy_files_for

_NAME = re.compile(r"[a-z0-9_\-]{1,64}")
_FALLBACK = {"operator": "replace"}


@dataclass(frozen=True)
class OperatorSet:
    """A named mapping from entity type to (operator name, parameters)."""

    name: str
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    default: dict[str, Any] = field(default_factory=lambda: dict(_FALLBACK))
    min_score: float = SCORE_THRESHOLD
    type_min_scores: dict[str, float] = field(default_factory=dict)

    def rule_for(self, entity_type: str) -> dict[str, Any]:
        """The operator and its parameters for ``entity_type`` (thresholds excluded)."""
        return self.rules.get(entity_type, self.default)

    def threshold_for(self, entity_type: str) -> float:
        """The score a detection of ``entity_type`` needs for this set to act on it."""
        return self.type_min_scores.get(entity_type, self.min_score)


def policy_files(policies: PolicyFiles | None = None) -> PolicyFiles:
    """``policies``; without one (a scan outside any platform: ``cdp pii scan``, the
    installation check), the process's files for ``Config.from_env().policy_dir``."""
    if policies is not None:
        return policies
    return policy_files_for(Config.from_env().policy_dir)


def load_policy(name: str, policies: PolicyFiles | None = None) -> OperatorSet:
    """The operator set ``name`` (``pii/<name>.toml``), re-read when the file changes."""
    if not _NAME.fullmatch(name or ""):
        raise ValidationError("invalid PII policy name")
    files = policy_files(policies)
    return files.load(f"pii/{name}", lambda f: _build(f, name))


def _build(files: PolicyFiles, name: str) -> OperatorSet:
    file = f"pii/{name}.toml"
    if not files.exists(file):
        raise ValidationError(f"unknown PII policy {name!r}")
    return parse_policy(name, files.document(file))


def parse_policy(name: str, data: dict[str, Any]) -> OperatorSet:
    """Validate a parsed TOML document into an :class:`OperatorSet`."""
    def check(rule: Any, where: str) -> dict[str, Any]:
        if not isinstance(rule, dict) or rule.get("operator") not in OPERATORS:
            raise ValidationError(f"PII policy {name!r}: {where} needs a known operator "
                                  f"({', '.join(sorted(OPERATORS))})")
        return dict(rule)

    def threshold(value: Any, where: str) -> float:
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or not SCAN_FLOOR <= value <= 1.0):
            raise ValidationError(f"PII policy {name!r}: {where} min_score must be a number "
                                  f"from {SCAN_FLOOR} to 1.0")
        return float(value)

    rules, type_min = {}, {}
    for etype, rule in data.get("entities", {}).items():
        rule = check(rule, etype)
        if "min_score" in rule:
            type_min[etype] = threshold(rule.pop("min_score"), etype)
        rules[etype] = rule
    default = check(data["default"], "default") if "default" in data else dict(_FALLBACK)
    if "min_score" in default:
        raise ValidationError(f"PII policy {name!r}: put min_score at the top of the file, "
                              "not in [default]")
    min_score = threshold(data.get("min_score", SCORE_THRESHOLD), "the file's")
    return OperatorSet(name=name, rules=rules, default=default, min_score=min_score,
                       type_min_scores=type_min)
