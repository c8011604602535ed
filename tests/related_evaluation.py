"""How good the related-trials ranking is: against a naive baseline and random trials, and on a development set of
trials the records themselves say are related (docs/related-trials.md). Test code, not product."""

from __future__ import annotations

import heapq
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from kg.analysis.related import ROLES, WEIGHTS, RelatedIndex, rank
from kg.analysis.related_eval import Labels


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
    index: RelatedIndex,
    *,
    k: int = 10,
    min_depth: int = 3,
    sample: int | None = None,
    seed: int = 0,
    weights: Mapping[str, float] = WEIGHTS,
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
        "engine": lambda q: [n.nct_id for n in rank(index, index.ncts[q], k, weights)],
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


# --- the development set: related by what the records say of each other, not by the engine's features -----------

_NCT = re.compile(r"NCT\d{8}")
_SEGMENT = re.compile(r"[^A-Z0-9]+")


def _texts(value: Any, skip: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every string in a record's JSON, but under the keys in ``skip``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from _texts(item, skip)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item, skip)
    elif isinstance(value, str):
        yield value


def _org_id(study: dict[str, Any]) -> str:
    return str(study["protocolSection"]["identificationModule"].get("orgStudyIdInfo", {}).get("id", "")).upper()


def _distinctive(identifier: str, length: int) -> bool:
    """Long enough, with a letter and a digit: "CT-155-C-002", "TPN171H", not "2022" or "001"."""
    return len(identifier) >= length and re.search(r"[A-Z]", identifier) is not None and re.search(r"\d", identifier)


def _stem(identifier: str) -> str | None:
    """A sponsor's protocol number without its last part ("TPN171H-E301" → "TPN171H"), when distinctive."""
    parts = [part for part in _SEGMENT.split(identifier) if part]
    stem = "-".join(parts[:-1])
    return stem if len(parts) > 1 and _distinctive(stem.replace("-", ""), 4) else None


def development_pairs(studies: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Trial → the trials related to it by one of three rules on what the records say (symmetric):

    1. one names the other's NCT id anywhere in its protocol (an extension, follow-up or substudy);
    2. one names the other's sponsor protocol number (``orgStudyId``, when distinctive) outside its own;
    3. their protocol numbers share a distinctive stem (TPN171H-E201 / TPN171H-E301: one sponsor's programme).
    """
    texts = {
        nct: "\n".join(_texts(study["protocolSection"], frozenset({"orgStudyIdInfo"}))).upper()
        for nct, study in studies.items()
    }
    org_ids = {nct: _org_id(study) for nct, study in studies.items()}
    related: dict[str, set[str]] = {nct: set() for nct in studies}

    def link(a: str, b: str) -> None:
        if a != b:
            related[a].add(b)
            related[b].add(a)

    for nct, text in texts.items():
        for named in set(_NCT.findall(text)) & related.keys():
            link(nct, named)
        for other, org_id in org_ids.items():
            if _distinctive(org_id, 6) and org_id in text:
                link(nct, other)
    by_stem: dict[str, list[str]] = {}
    for nct, org_id in org_ids.items():
        if (stem := _stem(org_id)) is not None:
            by_stem.setdefault(stem, []).append(nct)
    for members in by_stem.values():
        for a in members:
            for b in members:
                link(a, b)
    return {nct: found for nct, found in related.items() if found}


def split(pairs: dict[str, set[str]], seed: int = 20) -> tuple[Labels, Labels]:
    """The labelled queries in two halves, tune and held-out, by query trial (fixed seed)."""
    queries = sorted(pairs)
    random.Random(seed).shuffle(queries)
    half = len(queries) // 2
    as_labels = [{q: dict.fromkeys(sorted(pairs[q]), 1) for q in part} for part in (queries[:half], queries[half:])]
    return as_labels[0], as_labels[1]


def random_rankings(index: RelatedIndex, labels: Labels, depth: int = 50, seed: int = 0) -> dict[str, list[str]]:
    """Baseline: ``depth`` random other trials per query."""
    rng = random.Random(seed)
    return {
        q: [index.ncts[t] for t in rng.sample(range(len(index.ncts)), depth + 1) if index.ncts[t] != q][:depth]
        for q in labels
    }


def naive_rankings(index: RelatedIndex, labels: Labels, depth: int = 50) -> dict[str, list[str]]:
    """Baseline: trials by the number of shared MeSH terms."""
    return {q: naive_related(index, q, depth) for q in labels}
