"""Chinese names and the variants channels produce: traditional characters, pinyin,
homophone typing errors, honorific-only names and nicknames."""

from __future__ import annotations

import random

from .fastrand import pick, weighted
from .pools import GIVEN_FEMALE, GIVEN_MALE, HOMOPHONES, HONORIFICS, SURNAMES

SURNAME_VALUES = tuple(s for s, _, _ in SURNAMES)
SURNAME_CUM_WEIGHTS: tuple[int, ...] = tuple(
    sum(w for _, w, _ in SURNAMES[: i + 1]) for i in range(len(SURNAMES))
)
SURNAME_PINYIN = {s: p for s, _, p in SURNAMES}


def _build_char_tables() -> tuple[dict[str, str], dict[str, str]]:
    """Simplified -> traditional and char -> pinyin for every character the pools use.

    Built once at import from opencc / pypinyin on the (fixed) pools, so generation itself
    is a dictionary lookup and fully deterministic.
    """
    import opencc
    from pypinyin import lazy_pinyin

    chars: set[str] = set()
    for s in SURNAME_VALUES:
        chars.update(s)
    chars.update(GIVEN_MALE)
    chars.update(GIVEN_FEMALE)
    for k, vs in HOMOPHONES.items():
        chars.update(k)
        for v in vs:
            chars.update(v)
    ordered = sorted(chars)
    converted = opencc.OpenCC("s2t").convert("\n".join(ordered)).split("\n")
    s2t = {c: t for c, t in zip(ordered, converted, strict=True) if len(t) == 1}
    # single-character conversion picks 钟 -> 鍾 / 锺; names use 鍾
    pinyin = {c: lazy_pinyin(c)[0] for c in ordered}
    return s2t, pinyin


S2T, PINYIN = _build_char_tables()
_HAS_TRADITIONAL = frozenset(c for c, t in S2T.items() if t != c)


def random_surname(rng: random.Random) -> str:
    return weighted(rng, SURNAME_VALUES, SURNAME_CUM_WEIGHTS)


def random_given(rng: random.Random, gender: str) -> str:
    pool = GIVEN_MALE if gender == "male" else GIVEN_FEMALE
    if rng.random() < 0.3:
        return pick(rng, pool)
    first = pick(rng, pool)
    second = pick(rng, pool)
    if second == first and rng.random() < 0.7:  # 婷婷 happens, but not that often
        second = pick(rng, pool)
    return first + second


def split_name(name: str) -> tuple[str, str]:
    if len(name) >= 3 and name[:2] in SURNAME_PINYIN:
        return name[:2], name[2:]
    return name[:1], name[1:]


def has_traditional_form(name: str) -> bool:
    return any(c in _HAS_TRADITIONAL for c in name)


def traditional(name: str) -> str:
    return "".join(S2T.get(c, c) for c in name)


def pinyin_name(rng: random.Random, name: str) -> str:
    """Zhang Wei / ZHANG WEI / Wei Zhang / zhang wei / Zhang Xiaoming."""
    surname, given = split_name(name)
    sp = SURNAME_PINYIN.get(surname) or "".join(PINYIN.get(c, c) for c in surname).capitalize()
    gp = "".join(PINYIN.get(c, c) for c in given).capitalize()
    r = rng.random()
    if r < 0.45:
        return f"{sp} {gp}"
    if r < 0.7:
        return f"{sp} {gp}".upper()
    if r < 0.85:
        return f"{gp} {sp}"
    return f"{sp} {gp}".lower()


def homophone_typo(rng: random.Random, name: str) -> str | None:
    """Replace one given-name character by a homophone; None if no character qualifies."""
    surname, given = split_name(name)
    spots = [i for i, c in enumerate(given) if c in HOMOPHONES]
    if not spots:
        return None
    i = pick(rng, spots)
    return surname + given[:i] + pick(rng, HOMOPHONES[given[i]]) + given[i + 1 :]


def honorific(rng: random.Random, name: str, gender: str) -> str:
    surname, _ = split_name(name)
    return surname + pick(rng, HONORIFICS[gender])


def nickname(rng: random.Random, name: str) -> str:
    """小伟 / 阿强 / 老王 / 伟伟: what a person calls themselves in a chat."""
    surname, given = split_name(name)
    last = given[-1]
    r = rng.random()
    if r < 0.4:
        return "小" + last
    if r < 0.65:
        return "阿" + last
    if r < 0.85:
        return "老" + surname
    return last + last
