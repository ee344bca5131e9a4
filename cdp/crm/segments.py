"""Segment definitions (policies/segments/*.toml) and their small condition language.

A condition is a TOML table with exactly one of:

    all = [condition, ...]       every one holds
    any = [condition, ...]       at least one holds
    not = condition              it does not hold
    trait = "name", op = "...", value = ...    a comparison of one computed trait

Operators: ``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=`` (numbers, strings, lists), ``in`` (the
trait's value is one of a list), ``contains`` (a list trait holds the value), ``prefix``
(a string trait, or some element of a list trait, starts with the value). Every file is
validated when loaded: an unknown trait or operator, a value of the wrong type, or a
malformed table raises SegmentError naming the file, the segment and the bad term.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cdp.errors import CdpError
from cdp.policyfiles import PolicyFileError, PolicyFiles

# trait -> (kind, health-derived). Kinds: num, str, list.
TRAITS: dict[str, tuple[str, bool]] = {
    "recency_days": ("num", False),
    "frequency": ("num", False),
    "monetary": ("num", False),
    "r_score": ("num", False),
    "f_score": ("num", False),
    "m_score": ("num", False),
    "first_order": ("str", False),
    "last_order": ("str", False),
    "channels": ("list", False),
    "province": ("str", False),
    "city": ("str", False),
    "age_band": ("str", False),
    "gender": ("str", False),
    "tier": ("str", False),
    "p_alive": ("num", False),
    "churn_score": ("num", False),
    "expected_90d": ("num", False),
    "clv_12m": ("num", False),
    "value_score": ("num", False),
    "atc_codes": ("list", True),
    "drug_classes": ("list", True),
    "chronic_classes": ("list", True),
    "adherent_classes": ("list", True),
    "nonadherent_classes": ("list", True),
}
OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "contains", "prefix")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

Predicate = Callable[[Mapping[str, Any]], bool]


class SegmentError(CdpError):
    def __init__(self, message: str):
        super().__init__(message, code="segment_invalid", status=500)


@dataclass(frozen=True)
class Segment:
    name: str
    description: str
    file: str
    traits: frozenset[str]
    predicate: Predicate

    @property
    def health(self) -> bool:
        """Whether the definition uses a health-derived trait (needs marketing_health)."""
        return any(TRAITS[t][1] for t in self.traits)


def _compare(op: str, have: Any, want: Any) -> bool:
    if have is None:
        return False
    if op == "==":
        return bool(sorted(have) == sorted(want) if isinstance(have, list) else have == want)
    if op == "!=":
        return bool(sorted(have) != sorted(want) if isinstance(have, list) else have != want)
    if op == "in":
        return bool(have in want)
    if op == "contains":
        return bool(want in have)
    if op == "prefix":
        if isinstance(have, list):
            return any(isinstance(h, str) and h.startswith(want) for h in have)
        return isinstance(have, str) and have.startswith(want)
    try:
        if op == "<":
            return bool(have < want)
        if op == "<=":
            return bool(have <= want)
        if op == ">":
            return bool(have > want)
        return bool(have >= want)
    except TypeError:
        return False


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def compile_condition(cond: Any, where: str, used: set[str]) -> Predicate:
    """A predicate over a traits mapping; SegmentError (naming ``where``) when malformed."""
    if not isinstance(cond, dict):
        raise SegmentError(f"{where}: a condition must be a table, got {type(cond).__name__}")
    keys = set(cond)
    if keys & {"all", "any", "not"}:
        if len(keys) != 1:
            raise SegmentError(f"{where}: use exactly one of all / any / not, got {sorted(keys)}")
        (key,) = keys
        if key == "not":
            inner = compile_condition(cond["not"], f"{where}.not", used)
            return lambda t: not inner(t)
        items = cond[key]
        if not isinstance(items, list) or not items:
            raise SegmentError(f"{where}.{key}: must be a non-empty list of conditions")
        parts = [compile_condition(c, f"{where}.{key}[{i}]", used) for i, c in enumerate(items)]
        if key == "all":
            return lambda t: all(p(t) for p in parts)
        return lambda t: any(p(t) for p in parts)
    if keys != {"trait", "op", "value"}:
        extra = sorted(keys - {"trait", "op", "value"})
        bad = f"unknown term {extra[0]!r}" if extra else f"missing {sorted({'trait', 'op', 'value'} - keys)}"
        raise SegmentError(f"{where}: {bad}; a comparison is {{trait, op, value}}")
    trait, op, value = cond["trait"], cond["op"], cond["value"]
    if trait not in TRAITS:
        raise SegmentError(f"{where}: unknown trait {trait!r}; one of {', '.join(sorted(TRAITS))}")
    if op not in OPS:
        raise SegmentError(f"{where}: unknown operator {op!r}; one of {' '.join(OPS)}")
    kind = TRAITS[trait][0]
    ok = {
        "in": isinstance(value, list),
        "contains": kind == "list" and isinstance(value, str | int | float),
        "prefix": kind in ("list", "str") and isinstance(value, str),
    }.get(op)
    if ok is None:  # comparisons
        ok = (_is_num(value) if kind == "num" else isinstance(value, str) if kind == "str"
              else isinstance(value, list) and op in ("==", "!="))
    if not ok:
        raise SegmentError(
            f"{where}: operator {op!r} does not apply to trait {trait!r} ({kind}) with value "
            f"of type {type(value).__name__}"
        )
    used.add(trait)
    return lambda t: _compare(op, t.get(trait), value)


def parse_segments(doc: dict[str, Any], file: str) -> list[Segment]:
    out = []
    entries = doc.get("segment")
    unknown = set(doc) - {"segment"}
    if unknown:
        raise SegmentError(f"{file}: unknown key {min(unknown)!r}; segments are [[segment]] tables")
    if not isinstance(entries, list):
        raise SegmentError(f"{file}: no [[segment]] tables")
    for i, spec in enumerate(entries):
        name = spec.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise SegmentError(f"{file}: segment {i + 1} needs a name of lower-case letters, digits, _")
        extra = set(spec) - {"name", "description", "when"}
        if extra:
            raise SegmentError(f"{file}: segment {name}: unknown key {min(extra)!r}")
        if "when" not in spec:
            raise SegmentError(f"{file}: segment {name}: missing 'when'")
        used: set[str] = set()
        pred = compile_condition(spec["when"], f"{file}: segment {name}: when", used)
        out.append(Segment(name, str(spec.get("description", "")), file, frozenset(used), pred))
    return out


def _build(policies: PolicyFiles) -> dict[str, Segment]:
    out: dict[str, Segment] = {}
    for rel in policies.listing("segments"):
        try:
            doc = policies.document(rel)
        except PolicyFileError as exc:  # not valid TOML: the file and line
            raise SegmentError(exc.message) from None
        for seg in parse_segments(doc, rel):
            if seg.name in out:
                raise SegmentError(f"{rel}: segment {seg.name} is also defined in {out[seg.name].file}")
            out[seg.name] = seg
    return out


def load_segments(policies: PolicyFiles) -> dict[str, Segment]:
    """Every segment of ``segments/*.toml`` in ``policies``, by name (re-read when a file
    changes, appears or goes)."""
    return policies.load("segments", _build)
