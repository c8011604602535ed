"""Loading MeSH into a store (its own named graph, replaced as a unit) and keeping information content current."""

from __future__ import annotations

import itertools
import logging
import math
import re
import time
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pyoxigraph import Literal, NamedNode, Quad

from kg.analysis.saved_index import refresh_saved_indexes
from kg.mesh_mapping import MESH_GRAPH, MeshIndex, mesh_quads
from kg.sources.mesh import iter_mesh_file, iter_trees
from kg.store import Store
from kg.vocab import DATA, KG, XSD

__all__ = ["IC_GRAPH", "IC_PREDICATES", "MeshLoadReport", "TrialTerms", "load_mesh", "update_information_content"]

logger = logging.getLogger(__name__)

IC_GRAPH: Final = DATA["graph/mesh-statistics"]
_YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")
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
_ANCESTORS: Final = "PREFIX kg: <https://w3id.org/trialkg/vocab/> SELECT ?c ?a WHERE { ?c kg:ancestor ?a }"
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


@dataclass
class MeshLoadReport:
    descriptors: int = 0
    supplementary: int = 0
    quads: int = 0
    version: str = ""
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def load_mesh(
    store: Store, paths: Iterable[Path | str], *, version: str | None = None, terms: TrialTerms | None = None
) -> MeshLoadReport:
    """Replace the store's MeSH graph with the vocabulary in ``paths`` (descriptor, supplementary and mtrees
    files, any order), then recompute information content (from ``terms`` when the caller has them). The year is
    read from the file names unless given."""
    started = time.perf_counter()
    files = [Path(path) for path in paths]
    records = itertools.chain.from_iterable(
        iter_trees(file) if file.name.startswith("mtrees") else iter_mesh_file(file) for file in files
    )
    index = MeshIndex.from_records(records)
    years = sorted({match.group(0) for file in files if (match := _YEAR.search(file.name))})
    report = MeshLoadReport(version=version or "/".join(years) or "unknown")
    quads = list(mesh_quads(index, version=report.version))
    report.problems = list(index.problems) + index.unresolved_headings()
    store.replace_graphs({MESH_GRAPH: quads})
    report.descriptors, report.supplementary, report.quads = len(index.descriptors), len(index.concepts), len(quads)
    update_information_content(store, terms)
    refresh_saved_indexes(store)  # kg mesh load on a store that has indexes beside it
    report.seconds = time.perf_counter() - started
    for problem in report.problems:
        logger.info("%s", problem)  # callers report them (kg build / kg mesh load print each)
    return report


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
