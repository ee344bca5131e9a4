"""Identity resolution rules, read from ``policies/identity.toml``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cdp.errors import CdpError
from cdp.identity.vocabulary import SCOPED_BY_SOURCE
from cdp.policyfiles import PolicyFiles

FILE = "identity.toml"


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
    single_block_size: int
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
        single_block_size=int(prob.get("single_block_size", 5)),
        weights={k: _weights(v) for k, v in prob.get("fields", {}).items()},
        trust={k: int(v) for k, v in data.get("trust", {}).items()},
    )


def load_rules(policies: PolicyFiles) -> IdentityRules:
    """The rules in ``identity.toml`` of ``policies`` (re-read when the file changes)."""
    return policies.load("identity", _build)


def _build(files: PolicyFiles) -> IdentityRules:
    if not files.exists(FILE):
        raise CdpError(f"identity rules not found at {files.path(FILE)} (check CDP_POLICY_DIR)",
                       code="policy_missing", status=500)
    doc = files.document(FILE)
    try:
        return parse_rules(doc)
    except (KeyError, TypeError, ValueError) as e:
        raise CdpError(f"identity rules in {FILE} are invalid: {type(e).__name__}: {e}"[:300],
                       code="policy_invalid", status=500) from None
