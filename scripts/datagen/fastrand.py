"""Cheaper draws than random.Random.randrange / choice (which go through _randbelow).

One float per draw from the same seeded generator, so output stays deterministic; the tiny
bias of int(random() * n) is irrelevant for synthetic data.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def below(rng: random.Random, n: int) -> int:
    """Uniform integer in [0, n)."""
    return int(rng.random() * n)


def between(rng: random.Random, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi) (like randrange(lo, hi))."""
    return lo + int(rng.random() * (hi - lo))


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]


def cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return tuple(out)


def weighted(rng: random.Random, seq: Sequence[T], cum: Sequence[float]) -> T:
    """One draw with cumulative weights ``cum`` (see :func:`cumulative`)."""
    return seq[bisect_right(cum, rng.random() * cum[-1])]
