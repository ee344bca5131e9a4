"""Linkage quality metrics for identity resolution benchmarks.

Everything here works on *clusterings*: a mapping ``record key -> cluster label``. A record
key is any hashable value; the benches use ``(source, source_record_id)``.

Pairwise precision / recall / F1 are computed from the contingency table of
(predicted cluster, true cluster) counts, never by enumerating pairs, so a million records
cost a few dictionary passes:

* true positives  = sum over cells            C(n_ij, 2)
* predicted pairs = sum over predicted clusters C(a_i, 2)
* true pairs      = sum over true clusters      C(b_j, 2)

With ``groups`` (record key -> group, e.g. the dataset a record came from) only pairs whose
two records lie in *different* groups are counted, which is the usual way to score a
two-file linkage such as FEBRL4: for a cluster of n records split into groups n_g,
cross pairs = C(n, 2) - sum_g C(n_g, 2).

The ORACLE answers "how much recall does the evidence allow at all?": records are joined
when they share the exact (normalised) value of a strong identifier that genuinely belongs
to one person (checked against the truth), and the resulting connected components are
scored like any prediction. Its precision is 1.0 by construction; its recall is the best a
purely deterministic, exact-identifier resolver could reach on the data. A resolver that
also uses probabilistic evidence (names, birth dates, addresses) can exceed it.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass

Key = Hashable

__all__ = [
    "PLACEHOLDER_PHONES",
    "STRONG_TYPES",
    "PairwiseScores",
    "clusters_from_pairs",
    "mixed_clusters",
    "normalise_identifier",
    "oracle_clusters",
    "pairwise_scores",
    "split_people",
]


def _c2(n: int) -> int:
    return n * (n - 1) // 2


@dataclass(frozen=True)
class PairwiseScores:
    records: int  # records scored (present in truth)
    missing: int  # truth records absent from the prediction (scored as singletons)
    true_pairs: int
    predicted_pairs: int
    true_positives: int
    precision: float
    recall: float
    f1: float

    @property
    def false_positives(self) -> int:
        return self.predicted_pairs - self.true_positives

    @property
    def false_negatives(self) -> int:
        return self.true_pairs - self.true_positives

    def as_dict(self) -> dict:
        d = asdict(self)
        d["false_positives"] = self.false_positives
        d["false_negatives"] = self.false_negatives
        return d


def _pairs_in(sizes_by_group: Mapping[Key, int], grouped: bool) -> int:
    """Pairs inside one cluster; with groups only the pairs that cross groups."""
    n = sum(sizes_by_group.values())
    if not grouped:
        return _c2(n)
    return _c2(n) - sum(_c2(m) for m in sizes_by_group.values())


def pairwise_scores(
    predicted: Mapping[Key, Hashable],
    truth: Mapping[Key, Hashable],
    groups: Mapping[Key, Hashable] | None = None,
) -> PairwiseScores:
    """Pairwise precision, recall and F1 of ``predicted`` against ``truth``.

    Only records in ``truth`` are scored. A truth record missing from ``predicted`` counts as
    a singleton (it linked to nothing). Predicted records unknown to the truth are ignored.
    Conventions: precision is 1.0 when nothing was predicted linked, recall is 1.0 when the
    truth has no pairs, F1 is 0.0 when both precision and recall are 0.
    """
    grouped = groups is not None
    # cell / marginal counts, split by group when scoring cross-group pairs only
    cell: dict[tuple, Counter] = defaultdict(Counter)
    pred_sizes: dict[Hashable, Counter] = defaultdict(Counter)
    true_sizes: dict[Hashable, Counter] = defaultdict(Counter)
    missing = 0
    for key, t in truth.items():
        if key in predicted:
            p = ("p", predicted[key])
        else:
            missing += 1
            p = ("missing", key)  # its own singleton
        g = groups[key] if grouped else None
        cell[(p, t)][g] += 1
        pred_sizes[p][g] += 1
        true_sizes[t][g] += 1

    tp = sum(_pairs_in(c, grouped) for c in cell.values())
    pp = sum(_pairs_in(c, grouped) for c in pred_sizes.values())
    tt = sum(_pairs_in(c, grouped) for c in true_sizes.values())
    precision = tp / pp if pp else 1.0
    recall = tp / tt if tt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if (precision + recall) else 0.0
    return PairwiseScores(
        records=len(truth),
        missing=missing,
        true_pairs=tt,
        predicted_pairs=pp,
        true_positives=tp,
        precision=precision,
        recall=recall,
        f1=f1,
    )


def mixed_clusters(predicted: Mapping[Key, Hashable], truth: Mapping[Key, Hashable]) -> int:
    """Number of predicted clusters whose records belong to more than one true person."""
    people: dict[Hashable, set] = defaultdict(set)
    for key, p in predicted.items():
        if key in truth:
            people[p].add(truth[key])
    return sum(1 for s in people.values() if len(s) > 1)


def split_people(predicted: Mapping[Key, Hashable], truth: Mapping[Key, Hashable]) -> int:
    """Number of true people whose records ended up in more than one predicted cluster."""
    clusters: dict[Hashable, set] = defaultdict(set)
    for key, t in truth.items():
        clusters[t].add(predicted.get(key, ("missing", key)))
    return sum(1 for s in clusters.values() if len(s) > 1)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, x):
        parent = self.parent
        root = parent.setdefault(x, x)
        while root != parent[root]:
            root = parent[root]
        while x != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def clusters_from_pairs(keys: Iterable[Key], pairs: Iterable[tuple[Key, Key]]) -> dict[Key, Key]:
    """Connected components: record key -> representative key (every key gets a cluster)."""
    uf = _UnionFind()
    for k in keys:
        uf.find(k)
    for a, b in pairs:
        uf.union(a, b)
    return {k: uf.find(k) for k in list(uf.parent)}


# --- oracle ------------------------------------------------------------------------------

#: identifier types an exact-match resolver may trust; platform_user_id and wechat_openid are
#: only meaningful inside the source that issued them, so they are keyed by source.
STRONG_TYPES = (
    "national_id",
    "passport",
    "member_id",
    "wechat_unionid",
    "email",
    "platform_user_id",
    "wechat_openid",
    "phone",
)
SOURCE_SCOPED = frozenset({"platform_user_id", "wechat_openid"})

#: values typed at a till when the customer gives no number
PLACEHOLDER_PHONES = frozenset(
    {"13800138000", "00000000000", "13888888888", "13900000000", "12345678901", "11111111111"}
)

_NON_DIGIT = re.compile(r"\D")


def normalise_identifier(id_type: str, value: object) -> str | None:
    """A comparable form of an identifier value, or None when it is not usable evidence
    (masked, placeholder, empty, not a string)."""
    if not isinstance(value, str):
        return None
    v = value.strip()
    if not v or "*" in v:
        return None
    if id_type == "phone":
        digits = _NON_DIGIT.sub("", v)
        if digits.startswith("0086"):
            digits = digits[4:]
        elif digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        if len(digits) != 11 or digits in PLACEHOLDER_PHONES or len(set(digits)) == 1:
            return None
        return digits
    if id_type == "email":
        return v.replace(" ", "").lower() or None
    if id_type in ("national_id", "passport"):
        return v.replace(" ", "").upper()
    return v


def oracle_clusters(
    records: Iterable[Mapping],
    truth: Mapping[Key, Hashable],
    strong_types: Iterable[str] = STRONG_TYPES,
) -> dict[Key, Key]:
    """Connected components over records sharing a genuine strong identifier value.

    ``records`` are source-record dicts (docs/records.md; re-sends of the same key are merged).
    A value counts
    only if it is usable (see :func:`normalise_identifier`) and every record carrying it
    belongs to the same true person, which removes family-shared phones, placeholders that
    slipped through and any other over-shared value. Records unknown to ``truth`` are skipped.
    """
    strong = frozenset(strong_types)
    holders: dict[tuple, list] = defaultdict(list)
    owners: dict[tuple, set] = defaultdict(set)
    keys: list = []
    seen: set = set()
    for rec in records:
        if not isinstance(rec, Mapping):
            continue
        key = (rec.get("source"), rec.get("source_record_id"))
        if key not in truth:
            continue
        if key not in seen:
            seen.add(key)
            keys.append(key)
        for ident in rec.get("identifiers") or ():
            if not isinstance(ident, Mapping):
                continue
            t = ident.get("type")
            if t not in strong:
                continue
            norm = normalise_identifier(t, ident.get("value"))
            if norm is None:
                continue
            vkey = (t, rec.get("source") if t in SOURCE_SCOPED else None, norm)
            holders[vkey].append(key)
            owners[vkey].add(truth[key])
    pairs = []
    for vkey, ks in holders.items():
        if len(owners[vkey]) == 1 and len(ks) > 1:
            first = ks[0]
            pairs.extend((first, k) for k in ks[1:])
    return clusters_from_pairs(keys, pairs)
