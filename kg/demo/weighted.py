"""Weighted random choice for the synthetic study generator: fixed weights, and rank-based (Zipf) popularity."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Generic, TypeVar

__all__ = ["Weighted", "skewed"]

T = TypeVar("T")


class Weighted(Generic[T]):
    """Items with fixed weights; one draw is a bisect on the cumulative weights (fast enough for 100k records)."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if not items or len(items) != len(weights):
            raise ValueError("need one weight per item and at least one item")
        self.items = tuple(items)
        self.cum = tuple(accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect_right(self.cum, rng.random() * self.total)]

    def distinct(self, rng: random.Random, k: int) -> list[T]:
        """Up to ``k`` different items, popular ones first more often (a few tries, never an endless loop)."""
        chosen: list[T] = []
        for _ in range(4 * k):
            item = self.pick(rng)
            if item not in chosen:
                chosen.append(item)
                if len(chosen) == k:
                    break
        return chosen


def _zipf(n: int, s: float = 1.0) -> list[float]:
    """Rank-based popularity: the first item is the most common, as sponsors and conditions are in the registry."""
    return [1.0 / (rank + 1) ** s for rank in range(n)]


def skewed(items: Sequence[T], s: float = 1.0) -> Weighted[T]:
    return Weighted(items, _zipf(len(items), s))
