"""Identity resolution rules, read from ``policies/identity.toml``."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cdp.errors import CdpError
from cdp.identity.vocabulary import SCOPED_BY_SOURCE


@dataclass(frozen=True)
class FieldWeights:
    """Fellegi-Sunter weights (log2) of one compared field."""

    agree: float
    partial: float
    disagree: float


@dataclass(frozen=True)
class IdentityRules:
    strength: dict[str, str]
    blocked: dict[str, frozenset[str]]
    shared_limit: dict[str, int]
    link_threshold: float
    merge_threshold: float
    max_block_size: int
    weights: dict[str, FieldWeights]
    trust: dict[str, int] = field(default_factory=dict)

    def strength_of(self, id_type: str) -> str:
        return self.strength.get(id_type, "none")

    def is_blocked(self, id_type: str, norm: str) -> bool:
        return norm in self.blocked.get(id_type, frozenset())

    def trust_of(self, source: str) -> int:
        return self.trust.get(source, self.trust.get("default", 50))


def _weights(spec: dict) -> FieldWeights:
    m, u = float(spec["m"]), float(spec["u"])
    pm, pu = float(spec.get("partial_m", 0.0)), float(spec.get("partial_u", 0.0))
    partial = math.log2(pm / pu) if pm > 0 and pu > 0 else 0.0
    return FieldWeights(
        agree=math.log2(m / u),
        partial=partial,
        disagree=math.log2(max(1.0 - m - pm, 1e-6) / max(1.0 - u - pu, 1e-6)),
    )


def parse_rules(data: dict) -> IdentityRules:
    ids = dict(data.get("identifiers", {}))
    scoped = ids.pop("scoped_by_source", None)
    if scoped is not None and frozenset(scoped) != SCOPED_BY_SOURCE:
        # Accepting it would change nothing (the blind indexes are fixed) and mislead.
        raise ValueError("scoped_by_source cannot be changed by policy")
    prob = data.get("probabilistic", {})
    return IdentityRules(
        strength={k: str(v) for k, v in ids.items()},
        blocked={k: frozenset(v) for k, v in data.get("blocked", {}).items()},
        shared_limit={k: int(v) for k, v in data.get("shared", {}).items()},
        link_threshold=float(prob.get("link_threshold", 10.0)),
        merge_threshold=float(prob.get("merge_threshold", prob.get("link_threshold", 10.0))),
        max_block_size=int(prob.get("max_block_size", 60)),
        weights={k: _weights(v) for k, v in prob.get("fields", {}).items()},
        trust={k: int(v) for k, v in data.get("trust", {}).items()},
    )


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> IdentityRules:
    return parse_rules(tomllib.loads(Path(path).read_text(encoding="utf-8")))


def load_rules(policy_dir: str | Path) -> IdentityRules:
    """The rules in ``<policy_dir>/identity.toml`` (re-read when the file changes)."""
    path = Path(policy_dir) / "identity.toml"
    try:
        mtime = path.stat().st_mtime
    except OSError:
        raise CdpError(f"identity rules not found at {path} (check CDP_POLICY_DIR)",
                       code="policy_missing", status=500) from None
    try:
        return _load(str(path), mtime)
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as e:
        raise CdpError(f"identity rules in {path} are invalid: {type(e).__name__}",
                       code="policy_invalid", status=500) from None
