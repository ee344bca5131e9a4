"""The match decision for one record: pure functions over features and candidate evidence.

``decide`` answers which existing customers a record belongs to (none: a new customer; more
than one: they are one person and merge), by which rule and on what evidence. It reads the
candidates through the small ``Candidates`` protocol and touches no database, so it is
tested on hand-built features alone (tests/identity/test_decision.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from cdp.identity.matching import (
    Features,
    Score,
    fs_score,
    national_id_conflict,
    probabilistic_veto,
    profile_conflict,
)
from cdp.identity.prepare import PreparedRecord
from cdp.identity.rules import IdentityRules

# Match-key kinds that block candidates for probabilistic scoring, and the field each speaks
# for: a candidate found through two of a record's common keys must agree on two fields.
BLOCKING_FIELD = {"name": "name", "name_py": "name", "tok": "name", "dob": "birth_date",
                  "addr": "address", "phone_ps": "phone"}


class Candidates(Protocol):
    """The stored customers a batch knows of: features by customer, holders by blind index."""

    @property
    def features(self) -> Mapping[str, Features]: ...

    inactive: set[str]

    def final(self, cid: str) -> str: ...

    def holders(self, kind: str, bidx: str) -> set[str]: ...


@dataclass
class Decision:
    """Customers the record belongs to (the first survives any merge), rule and evidence."""

    group: list[str] = field(default_factory=list)
    rule: str = "new"
    evidence: list[str] = field(default_factory=list)
    score: float | None = None


def _personal(evidence: list[str]) -> bool:
    """Weak evidence links only with agreement on the person themself (name or birth date):
    family members share phones and addresses, so those alone never decide."""
    ev = set(evidence)
    return "name" in ev or "birth_date" in ev or ("birth_date~" in ev and "name~" in ev)



def decide(p: PreparedRecord, current: str | None, cands: Candidates,
           rules: IdentityRules) -> Decision:
    """Which customers ``p`` belongs to; ``current`` is the customer its stored version
    belongs to, if any (an update keeps its customer unless evidence says otherwise)."""
    feats = p.features
    strong: dict[str, list[str]] = defaultdict(list)
    medium: dict[str, list[str]] = defaultdict(list)
    for ident in p.identifiers:
        if not ident.bidx or ident.strength == "none":
            continue
        hs = cands.holders(f"id:{ident.type}", ident.bidx)
        if ident.strength == "strong":
            for c in hs:
                strong[c].append(ident.type)
        elif ident.strength == "medium":
            limit = rules.shared_limit.get(ident.type, 1_000_000)
            if len(hs) > limit:
                continue  # over-shared value: treated as shared, not as identity
            for c in hs:
                medium[c].append(ident.type)
    if current is not None:
        cur = cands.final(current)
        if cur not in cands.inactive:
            strong[cur].append("update")

    group: list[str] = []
    rule = "new"
    evidence: list[str] = []
    score: float | None = None
    ok_strong = [c for c in strong if not national_id_conflict(feats, cands.features[c])]
    ok_strong.sort(key=lambda c: (-len(strong[c]), c != current, c))
    for c in ok_strong:
        if not group:
            group.append(c)
            continue
        if not any(national_id_conflict(cands.features[c], cands.features[g]) for g in group):
            group.append(c)
    if group:
        kinds = sorted({k for c in group for k in strong[c]})
        rule, evidence = "deterministic:" + "+".join(kinds), kinds
    med = [c for c in medium if c not in group and not profile_conflict(feats, cands.features[c])]
    med.sort(key=lambda c: (-len(medium[c]), c))
    if group and med:
        base = _combined(cands, group, feats)
        for c in med:
            if not profile_conflict(base, cands.features[c]):
                group.append(c)
                base.absorb(cands.features[c])
                evidence = sorted(set(evidence) | set(medium[c]))
    elif med:
        chosen: list[str] = []
        for c in med:
            if all(not profile_conflict(cands.features[c], cands.features[g]) for g in chosen):
                chosen.append(c)
        if len(chosen) < len(med):
            # The shared value points at people who are not one person (a family): only
            # a candidate the profile positively agrees with may take the record.
            scores = {c: fs_score(feats, cands.features[c], rules) for c in med}
            agreeing = [c for c in med if scores[c].total > 0
                        and any(e in ("name", "birth_date") for e in scores[c].evidence)]
            chosen = agreeing[:1] if len(agreeing) == 1 else []
        if chosen:
            group = chosen
            kinds = sorted({k for c in group for k in medium[c]})
            rule, evidence = "deterministic:" + "+".join(kinds), kinds
    if not group:
        best = _probabilistic(cands, rules, _blocked(cands, rules, p.match_keys, set()), feats,
                              rules.link_threshold)
        if best is not None:
            c, sc = best
            group = [c]
            rule, evidence, score = "probabilistic", sc.evidence, round(sc.total, 3)
    else:
        # The record may reveal that its customer and another one are the same person
        # (a masked-phone channel account meeting the app account): merge only on a score
        # well above the link threshold, so resolution depends less on arrival order.
        # (The group's combined features are built only when there is someone to score.)
        others = _blocked(cands, rules, p.match_keys, set(group))
        best = (_probabilistic(cands, rules, others, _combined(cands, group, feats),
                               rules.merge_threshold) if others else None)
        if best is not None:
            group.append(best[0])
            evidence = sorted(set(evidence) | set(best[1].evidence))
    return Decision(group, rule, evidence, score)


def _combined(cands: Candidates, group: list[str], feats: Features) -> Features:
    base = Features()
    base.absorb(feats)
    for g in group:
        base.absorb(cands.features[g])
    return base


def blocked(match_keys: Iterable[tuple[str, str]],
            holders: Callable[[str, str], Collection[str]], rules: IdentityRules) -> set[str]:
    """The customers ``match_keys`` block together, given the ``holders`` of each key.

    A key held by at most ``rules.single_block_size`` customers blocks on its own. A commoner
    key (a common name, at a million customers every birth date) blocks only the holders who
    share a key of another field too: the compound block (name and birth date, name and
    address...) that keeps a record's candidates bounded as the customers grow, where a single
    common key would hand it dozens. A key held by more than ``rules.max_block_size`` customers
    blocks nothing (it is not even read in full: see ``Evidence``).
    """
    out: set[str] = set()
    fields_of: dict[str, set[str]] = defaultdict(set)
    for kind, b in match_keys:
        f = BLOCKING_FIELD.get(kind)
        if f is None:
            continue
        hs = holders(kind, b)
        if len(hs) > rules.max_block_size:
            continue
        if len(hs) <= rules.single_block_size:
            out.update(hs)
        else:
            for c in hs:
                fields_of[c].add(f)
    out.update(c for c, fs in fields_of.items() if len(fs) >= 2)
    return out


def _blocked(cands: Candidates, rules: IdentityRules, match_keys: list[tuple[str, str]],
             exclude: set[str]) -> list[str]:
    """The candidates ``match_keys`` block together (see ``blocked``), less ``exclude``,
    sorted."""
    return sorted(blocked(match_keys, cands.holders, rules) - exclude)


def _probabilistic(cands: Candidates, rules: IdentityRules, scored: list[str],
                   feats: Features, threshold: float) -> tuple[str, Score] | None:
    """The best-scoring of the ``scored`` (blocked) candidates at or above ``threshold``
    (None if none). A candidate whose evidence was not loaded (see ``blocked``) is skipped."""
    best: tuple[str, Score] | None = None
    for c in scored:
        f = cands.features.get(c)
        if f is None or probabilistic_veto(feats, f):
            continue
        sc = fs_score(feats, f, rules)
        if not _personal(sc.evidence):
            continue
        if sc.total >= threshold and (best is None or sc.total > best[1].total):
            best = (c, sc)
    return best

