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
from cdp.pii.operators import OPERATORS

_NAME = re.compile(r"[a-z0-9_\-]{1,64}")
_FALLBACK = {"operator": "replace"}
_lock = threading.Lock()
_cache: dict[tuple[str, float], "OperatorSet"] = {}


@dataclass(frozen=True)
class OperatorSet:
    """A named mapping from entity type to (operator name, parameters)."""

    name: str
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    default: dict[str, Any] = field(default_factory=lambda: dict(_FALLBACK))

    def rule_for(self, entity_type: str) -> dict[str, Any]:
        return self.rules.get(entity_type, self.default)


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

    rules = {etype: check(rule, etype) for etype, rule in data.get("entities", {}).items()}
    default = check(data["default"], "default") if "default" in data else dict(_FALLBACK)
    return OperatorSet(name=name, rules=rules, default=default)
