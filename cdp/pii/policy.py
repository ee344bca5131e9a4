"""Operator sets: which operator applies to which entity type, read from ``policies/pii``.

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

import os
import re
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdp.errors import ValidationError
from cdp.pii.analyzer import SCAN_FLOOR, SCORE_THRESHOLD
from cdp.pii.operators import OPERATORS

_NAME = re.compile(r"[a-z0-9_\-]{1,64}")
_FALLBACK = {"operator": "replace"}
_lock = threading.Lock()
_cache: dict[tuple[str, float], OperatorSet] = {}


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


def policy_dir() -> Path:
    """``$CDP_POLICY_DIR/pii``; the repository's ``policies/pii`` when that is absent."""
    base = Path(os.environ.get("CDP_POLICY_DIR", "policies"))
    candidate = base / "pii"
    if candidate.is_dir():
        return candidate
    return Path(__file__).resolve().parents[2] / "policies" / "pii"


def load_policy(name: str) -> OperatorSet:
    """Load (and cache until the file changes) the operator set ``name``."""
    if not _NAME.fullmatch(name or ""):
        raise ValidationError("invalid PII policy name")
    path = policy_dir() / f"{name}.toml"
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise ValidationError(f"unknown PII policy {name!r}") from None
    key = (str(path), mtime)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    with open(path, "rb") as f:
        data = tomllib.load(f)
    op_set = parse_policy(name, data)
    with _lock:
        _cache[key] = op_set
    return op_set


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
