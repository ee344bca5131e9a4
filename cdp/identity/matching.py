"""Comparing a record with a customer: hard conflicts, profile conflicts, Fellegi-Sunter score.

Works on in-memory features only: identifiers as blind indexes (equality is all matching
needs), names / birth dates / addresses in their normal forms (decrypted for the duration of
one batch, never written anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jellyfish import jaro_winkler_similarity

from cdp.identity import normalize as nz
from cdp.identity.normalize import NameInfo, names_relation
from cdp.identity.rules import IdentityRules

_NAME_RANK = {"same": 2, "compatible": 1, "conflict": 0}


@dataclass
class Features:
    """What a record (or, merged, a customer) says about the person."""

    ids: dict[str, set[str]] = field(default_factory=dict)  # identifier type -> blind indexes
    names: list[NameInfo] = field(default_factory=list)
    dobs: set[str] = field(default_factory=set)
    genders: set[str] = field(default_factory=set)
    addresses: set[str] = field(default_factory=set)
    phone_ps: set[str] = field(default_factory=set)  # blind indexes of phone prefix+suffix

    def copy(self) -> Features:
        """An independent copy (NameInfo values are never mutated, so they are shared)."""
        return Features({t: set(v) for t, v in self.ids.items()}, list(self.names),
                        set(self.dobs), set(self.genders), set(self.addresses),
                        set(self.phone_ps))

    def absorb(self, other: Features) -> None:
        for t, vals in other.ids.items():
            self.ids.setdefault(t, set()).update(vals)
        known = {n.text for n in self.names}
        self.names.extend(n for n in other.names if n.text not in known)
        self.dobs |= other.dobs
        self.genders |= other.genders
        self.addresses |= other.addresses
        self.phone_ps |= other.phone_ps


def national_id_features(raw: str) -> Features:
    """Birth date and gender a valid resident ID number states about its holder."""
    f = Features()
    n = nz.normalize_national_id(raw)
    if n.norm:
        dob = nz.national_id_birth_date(n.norm)
        if dob:
            f.dobs.add(dob)
        f.genders.add("male" if int(n.norm[16]) % 2 else "female")
    return f


def national_id_conflict(a: Features, b: Features) -> bool:
    """Two different valid national ID numbers: never one person."""
    x, y = a.ids.get("national_id"), b.ids.get("national_id")
    return bool(x and y and x != y)


def name_relation(a: Features, b: Features) -> str | None:
    """Best relation between any name of ``a`` and any of ``b`` (None if one has none)."""
    if not a.names or not b.names:
        return None
    best = "conflict"
    for x in a.names:
        for y in b.names:
            r = names_relation(x, y)
            if _NAME_RANK[r] > _NAME_RANK[best]:
                best = r
                if best == "same":
                    return best
    return best


def dob_relation(a: Features, b: Features) -> str | None:
    if not a.dobs or not b.dobs:
        return None
    if a.dobs & b.dobs:
        return "same"
    for x in a.dobs:
        for y in b.dobs:
            if _one_edit(x, y):
                return "near"
    return "conflict"


def _one_edit(x: str, y: str) -> bool:
    """One digit changed, or two adjacent digits swapped (typing errors)."""
    if len(x) != len(y):
        return False
    diff = [i for i, (p, q) in enumerate(zip(x, y, strict=True)) if p != q]
    if len(diff) == 1:
        return True
    if len(diff) == 2 and diff[1] == diff[0] + 1:
        i = diff[0]
        return x[i] == y[i + 1] and x[i + 1] == y[i]
    return False


def _chinese(a: Features) -> bool:
    return any(n.kind in ("full", "honorific") for n in a.names)


def profile_conflict(a: Features, b: Features) -> bool:
    """Whether the profiles say these are different people (family members sharing a phone).

    Used for medium-strength identifiers: a conflicting name, birth date or gender vetoes.
    """
    if national_id_conflict(a, b):
        return True
    if a.genders and b.genders and not (a.genders & b.genders):
        return True
    dob = dob_relation(a, b)
    if dob == "conflict" or dob == "near":
        return True
    return name_relation(a, b) == "conflict"


def probabilistic_veto(a: Features, b: Features) -> bool:
    """Hard reasons a weak-evidence score may not link."""
    if national_id_conflict(a, b):
        return True
    if a.genders and b.genders and not (a.genders & b.genders):
        return True
    if dob_relation(a, b) == "conflict":
        return True
    # Chinese names: a different given name is a different person (family, namesakes).
    return name_relation(a, b) == "conflict" and (_chinese(a) or _chinese(b))


def _latin_name_score(a: Features, b: Features) -> float:
    best = 0.0
    for x in a.names:
        for y in b.names:
            if x.kind != "latin" or y.kind != "latin":
                continue
            if set(x.tokens) <= set(y.tokens) or set(y.tokens) <= set(x.tokens):
                best = max(best, 0.95)
            best = max(best, jaro_winkler_similarity(x.pinyin_key, y.pinyin_key))
            best = max(best, jaro_winkler_similarity(" ".join(x.tokens), " ".join(y.tokens)))
    return best


def _address_score(a: Features, b: Features) -> float:
    best = 0.0
    for x in a.addresses:
        for y in b.addresses:
            if x == y:
                return 1.0
            best = max(best, jaro_winkler_similarity(x, y))
    return best


@dataclass
class Score:
    total: float
    evidence: list[str]


def fs_score(a: Features, b: Features, rules: IdentityRules) -> Score:
    """Fellegi-Sunter log2 score of ``a`` against ``b`` and the kinds of agreeing evidence."""
    w = rules.weights
    total = 0.0
    evidence: list[str] = []

    rel = name_relation(a, b)
    if rel is not None and "name" in w:
        if rel == "same":
            total += w["name"].agree
            evidence.append("name")
        else:
            sim = _latin_name_score(a, b)
            if rel == "compatible" or sim >= 0.88:
                total += w["name"].partial if sim < 0.95 else (w["name"].agree + w["name"].partial) / 2
                evidence.append("name~")
            else:
                total += w["name"].disagree

    dob = dob_relation(a, b)
    if dob is not None and "birth_date" in w:
        if dob == "same":
            total += w["birth_date"].agree
            evidence.append("birth_date")
        elif dob == "near":
            total += w["birth_date"].partial
            evidence.append("birth_date~")
        else:
            total += w["birth_date"].disagree

    if a.addresses and b.addresses and "address" in w:
        s = _address_score(a, b)
        if s >= 1.0:
            total += w["address"].agree
            evidence.append("address")
        elif s >= 0.9:
            total += w["address"].partial
            evidence.append("address~")
        else:
            total += w["address"].disagree

    if a.phone_ps and b.phone_ps and "phone_ps" in w:
        if a.phone_ps & b.phone_ps:
            total += w["phone_ps"].agree
            evidence.append("masked_phone")
        else:
            total += w["phone_ps"].disagree

    if a.genders and b.genders and "gender" in w:
        total += w["gender"].agree if a.genders & b.genders else w["gender"].disagree

    x, y = a.ids.get("member_id"), b.ids.get("member_id")
    if x and y and "member_id" in w:
        if x & y:
            total += w["member_id"].agree
            evidence.append("member_id")
        else:
            total += w["member_id"].disagree
    return Score(total, evidence)
