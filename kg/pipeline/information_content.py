"""Information content of each MeSH concept a trial reaches: how many trials sit at or under it, and
``-ln(trials at or under / all trials)``, recomputed after every build, MeSH load and update."""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable
from typing import Final

from pyoxigraph import Literal, NamedNode, Quad

from kg.graphs import IC_GRAPH
from kg.store import Store
from kg.vocab import KG, SPARQL_PROLOGUE, XSD

__all__ = ["IC_PREDICATES", "TrialTerms", "update_information_content"]

#: What puts a trial at a concept: its MeSH terms and the registry's ancestors of them.
IC_PREDICATES: Final = (
    KG.conditionMesh,
    KG.interventionMesh,
    KG.registryConditionAncestor,
    KG.registryInterventionAncestor,
)
_PAIRS: Final = (
    f"SELECT ?trial ?concept WHERE {{ VALUES ?p {{ {' '.join(map(str, IC_PREDICATES))} }} ?trial ?p ?concept }}"
)
_ANCESTORS: Final = SPARQL_PROLOGUE + "SELECT ?c ?a WHERE { ?c kg:ancestor ?a }"
_TRIALS: Final = "SELECT (COUNT(?t) AS ?n) WHERE { ?t a <https://schema.org/MedicalTrial> }"


class TrialTerms:
    """Each trial's concepts (``IC_PREDICATES``), as small integers: what information content counts. A build
    collects them while loading records (reading 11.5M pairs back from a 600k-trial store took minutes); otherwise
    they are read from the store."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.by_trial: dict[str, array[int]] = {}

    def set(self, trial: str, concepts: Iterable[str]) -> None:
        """The trial's concepts (IRIs), replacing any it had."""
        numbers = self.numbers
        self.by_trial[trial] = array("i", (numbers.setdefault(concept, len(numbers)) for concept in concepts))

    @classmethod
    def read(cls, store: Store) -> TrialTerms:
        terms = cls()
        numbers, by_trial = terms.numbers, terms.by_trial
        for trial, concept in store.solutions(_PAIRS, "trial", "concept"):
            found = by_trial.get(trial)
            if found is None:
                found = by_trial[trial] = array("i")
            found.append(numbers.setdefault(concept, len(numbers)))
        return terms


def update_information_content(store: Store, terms: TrialTerms | None = None) -> int:
    """Store, per MeSH concept, how many trials sit at or under it and its information content
    ``-ln(trials at or under / all trials)``: rare concepts carry more information than Neoplasms.

    "Under" follows the loaded hierarchy (``kg:ancestor``) and, for every trial, the registry's own ancestor
    lists, so the figures exist with or without a MeSH file. Returns the number of concepts scored.

    Trials are counted one at a time (a closure per trial held at once took gigabytes at 600k trials)."""
    total = int(store.select(_TRIALS).rows[0]["n"] or 0)
    terms = terms or TrialTerms.read(store)
    numbers = terms.numbers
    closure: dict[int, set[int]] = {}
    for concept, ancestor in store.solutions(_ANCESTORS, "c", "a"):
        closure.setdefault(numbers.setdefault(concept, len(numbers)), set()).add(
            numbers.setdefault(ancestor, len(numbers))
        )
    counts: Counter[int] = Counter()
    for concepts in terms.by_trial.values():
        reached = set(concepts)
        for number in concepts:
            reached.update(closure.get(number, ()))
        counts.update(reached)
    iris = list(numbers)
    quads = []
    for number, count in counts.items():
        node = NamedNode(iris[number])
        ic = -math.log(count / total) if total else 0.0
        quads.append(Quad(node, KG.trialsAtOrUnder, Literal(str(count), datatype=XSD.integer), IC_GRAPH))
        quads.append(Quad(node, KG.informationContent, Literal(f"{ic:.6f}", datatype=XSD.decimal), IC_GRAPH))
    store.replace_graphs({IC_GRAPH: quads})
    return len(counts)
