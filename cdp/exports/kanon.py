"""k-anonymity over declared quasi-identifiers, by full-domain generalisation + suppression.

Rows are not held: the first pass counts each distinct hierarchy chain (bounded by the
domain of the quasi-identifiers, not by the row count), ``solve`` picks the least
generalisation whose suppression stays within the limit, and the second pass maps each row
through the chosen levels and drops the rows of classes still smaller than k.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

Chain = tuple[tuple[object, ...], ...]


@dataclass
class Solution:
    levels: tuple[int, ...]
    k: int
    rows: int
    suppressed: int
    k_reached: int | None
    small_classes: set[tuple[object, ...]] = field(default_factory=set)

    def key(self, chain: Chain) -> tuple[object, ...]:
        return tuple(c[min(lv, len(c) - 1)] for c, lv in zip(chain, self.levels, strict=True))

    def keep(self, chain: Chain) -> bool:
        return self.key(chain) not in self.small_classes


class KAnonymizer:
    """Counts quasi-identifier chains, then solves for k (see module docstring)."""

    def __init__(self, depths: Sequence[int], k: int, max_suppression: float):
        self.depths = tuple(depths)
        self.k = k
        self.max_suppression = max_suppression
        self.counts: Counter[Chain] = Counter()
        self.total = 0

    def add(self, chain: Chain) -> None:
        self.counts[chain] += 1
        self.total += 1

    def _classes(self, levels: tuple[int, ...]) -> Counter[tuple[object, ...]]:
        classes: Counter[tuple[object, ...]] = Counter()
        for chain, n in self.counts.items():
            classes[tuple(c[min(lv, len(c) - 1)] for c, lv in zip(chain, levels, strict=True))] += n
        return classes

    def solve(self) -> Solution:
        """The least generalisation (fewest levels up; then least suppression) whose rows in
        classes smaller than k are at most ``max_suppression`` of all rows; those rows go."""
        if not self.depths:
            return Solution((), self.k, self.total, 0, self.total or None)
        nodes = sorted(itertools.product(*(range(d) for d in self.depths)),
                       key=lambda lv: (sum(lv), lv))
        limit = self.max_suppression * self.total
        best: Solution | None = None
        for levels in nodes:
            if best is not None and sum(levels) > sum(best.levels):
                break
            classes = self._classes(levels)
            small = {c for c, n in classes.items() if n < self.k}
            suppressed = sum(classes[c] for c in small)
            if suppressed <= limit and (best is None or suppressed < best.suppressed):
                kept = [n for c, n in classes.items() if c not in small]
                best = Solution(levels, self.k, self.total - suppressed, suppressed,
                                min(kept) if kept else None, small)
        if best is None:  # cannot happen unless max_suppression < 0; the top node is one class
            levels = tuple(d - 1 for d in self.depths)
            classes = self._classes(levels)
            small = {c for c, n in classes.items() if n < self.k}
            suppressed = sum(classes[c] for c in small)
            kept = [n for c, n in classes.items() if c not in small]
            best = Solution(levels, self.k, self.total - suppressed, suppressed,
                            min(kept) if kept else None, small)
        return best
