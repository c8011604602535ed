"""How good the related-trials ranking is, against a naive baseline and random trials: test code, not product."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence

from kg.analysis.related import ROLES, RelatedIndex, rank


def naive_related(index: RelatedIndex, nct_id: str, top: int = 10) -> list[str]:
    """Baseline: trials by the number of shared MeSH terms, no weighting, no ancestors."""
    query = index.trial(nct_id)
    mine = [set(index.terms[role][query]) for role in ROLES]
    counts = [
        (sum(len(m.intersection(index.terms[role][other])) for m, role in zip(mine, ROLES, strict=True)), other)
        for other in range(len(index.ncts))
        if other != query
    ]
    best = heapq.nlargest(top, counts, key=lambda item: (item[0], -item[1]))
    return [index.ncts[other] for count, other in best if count > 0]


def _condition_match(index: RelatedIndex, query: int, other: int, min_depth: int) -> bool:
    """The two share a condition term, or a condition ancestor at depth ``min_depth`` or deeper."""
    if set(index.terms["condition"][query]).intersection(index.terms["condition"][other]):
        return True
    shared = set(index.closures["condition"][query]).intersection(index.closures["condition"][other])
    return any(index.depths[c] >= min_depth for c in shared)


def neighbour_quality(
    index: RelatedIndex, *, k: int = 10, min_depth: int = 3, sample: int | None = None, seed: int = 0
) -> dict[str, float]:
    """Share of the top-``k`` neighbours sharing a condition term or a specific (depth ≥ ``min_depth``) condition
    ancestor with trials that have condition terms: this engine, the naive baseline and random trials.

    ``NAME`` is per slot (an empty slot, when a method finds fewer than ``k`` trials, counts as a miss: precision at
    ``k``); ``NAME_returned`` is per neighbour actually returned."""
    rng = random.Random(seed)
    queries = [t for t in range(len(index.ncts)) if len(index.terms["condition"][t])]
    if sample is not None and sample < len(queries):
        queries = rng.sample(queries, sample)
    methods: dict[str, Callable[[int], Sequence[str]]] = {
        "engine": lambda q: [n.nct_id for n in rank(index, index.ncts[q], k)],
        "naive": lambda q: naive_related(index, index.ncts[q], k),
        "random": lambda q: [index.ncts[t] for t in rng.sample(range(len(index.ncts)), k + 1) if t != q][:k],
    }
    figures: dict[str, float] = {"queries": float(len(queries))}
    for name, method in methods.items():
        hits = total = 0
        for query in queries:
            found = method(query)
            hits += sum(_condition_match(index, query, index.position[nct], min_depth) for nct in found)
            total += len(found)
        figures[name] = hits / (k * len(queries)) if queries else 0.0
        figures[f"{name}_returned"] = hits / total if total else 0.0
    return figures
