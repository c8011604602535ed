"""Scoring related-trials rankings against labelled pairs, in the layout of TrialSim and SECRET.

A labelled set is a CSV or TSV file of rows ``query id, candidate id, label`` (label 1: related, 0: not), with or
without a header line: TrialSim's ``target_trial,trial,label`` and SECRET's query/candidate/label files read as
they are. Two ways to rank:

* ``rerank`` (how TrialSim and SECRET are scored): each query's labelled candidates, ordered by the engine's score;
* ``retrieve`` (how the development set of docs/related-trials.md is scored): the engine's own top results over the
  whole store; anything unlabelled counts as not related.

Measures, per query with at least one related candidate, then averaged (binary gains; R = the query's related
candidates in the labels): P@1; P@5 = related in the top 5 / 5; R@5 = related in the top 5 / R;
nDCG@5 = Σ_{i≤5, related} 1/log2(i+1) over the same sum for a perfect ranking (min(R, 5) related first);
MAP = mean over queries of AP = (1/R) Σ_{k: related at k} P@k.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final

from kg.analysis.related import WEIGHTS, RelatedIndex, best, scores
from kg.errors import KgError
from kg.identifiers import is_nct_id

__all__ = ["MEASURES", "Labels", "LabelsError", "evaluate", "measures", "read_labels", "rerank", "retrieve"]

#: query → candidate → 1 (related) or 0.
Labels = dict[str, dict[str, int]]
MEASURES: Final = ("P@1", "P@5", "R@5", "nDCG@5", "MAP")
CUTOFF: Final = 5


class LabelsError(KgError):
    """A labelled-pairs file that cannot be read as query, candidate, 0/1 label."""


def read_labels(path: Path) -> Labels:
    """The labelled pairs of a CSV/TSV file (see the module docstring); a malformed row is one clear error."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise LabelsError(f"{path}: not UTF-8 text ({error.reason})") from error
    dialect = "excel-tab" if "\t" in text.partition("\n")[0] else "excel"
    labels: Labels = {}
    for number, row in enumerate(csv.reader(text.splitlines(), dialect=dialect), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 3:
            raise LabelsError(f"{path}:{number}: expected query id, candidate id, label; got {row!r:.80}")
        query, candidate, label = (cell.strip() for cell in row[:3])
        if label not in ("0", "1"):
            if number == 1:
                continue  # a header
            raise LabelsError(f"{path}:{number}: label {label!r:.20} is not 0 or 1")
        labels.setdefault(query.upper(), {})[candidate.upper()] = int(label)
    return labels


def measures(ranking: Sequence[str], related: set[str]) -> dict[str, float]:
    """P@1, P@5, R@5, nDCG@5 and average precision of one ranking (see the module docstring)."""
    hits = [nct in related for nct in ranking]
    top = hits[:CUTOFF]
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(related), CUTOFF)))
    found, precision_sum = 0, 0.0
    for position, hit in enumerate(hits, start=1):
        if hit:
            found += 1
            precision_sum += found / position
    return {
        "P@1": float(bool(hits[:1] and hits[0])),
        "P@5": sum(top) / CUTOFF,
        "R@5": sum(top) / len(related),
        "nDCG@5": sum(1 / math.log2(i + 2) for i, hit in enumerate(top) if hit) / ideal,
        "MAP": precision_sum / len(related),
    }


def evaluate(rankings: Mapping[str, Sequence[str]], labels: Labels) -> dict[str, float]:
    """Each measure averaged over the labelled queries with a related candidate; ``queries`` says how many."""
    per_query = [
        measures(rankings.get(query, ()), {c for c, label in candidates.items() if label})
        for query, candidates in sorted(labels.items())
        if any(candidates.values())
    ]
    result = {name: sum(m[name] for m in per_query) / len(per_query) if per_query else 0.0 for name in MEASURES}
    return {**result, "queries": float(len(per_query))}


def rerank(index: RelatedIndex, labels: Labels, weights: Mapping[str, float] = WEIGHTS) -> dict[str, list[str]]:
    """Each query's labelled candidates by the engine's score, best first; candidates not in the store last (in
    label order), queries not in the store left out."""
    rankings: dict[str, list[str]] = {}
    for query, candidates in labels.items():
        if query not in index.position:
            continue
        known = [index.position[c] for c in candidates if c in index.position]
        ordered = [index.ncts[other] for other, _ in scores(index, query, known, weights)]
        rankings[query] = ordered + [c for c in candidates if c not in index.position]
    return rankings


def retrieve(
    index: RelatedIndex, queries: Iterable[str], weights: Mapping[str, float] = WEIGHTS, depth: int = 50
) -> dict[str, list[str]]:
    """The engine's top ``depth`` trials for each query in the store (as :func:`~kg.analysis.related.rank` orders
    them, without making their explanations)."""
    return {
        query: [index.ncts[other] for other, scored in best(index, query, depth, weights) if scored.score > 0]
        for query in queries
        if is_nct_id(query) and query in index.position
    }
