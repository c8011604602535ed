"""Loading MeSH into a store (its own named graph, replaced as a unit) and keeping information content current."""

from __future__ import annotations

import itertools
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pyoxigraph import Literal, NamedNode, Quad

from kg.analysis.related import refresh_saved_index
from kg.mesh_mapping import MESH_GRAPH, MeshIndex, mesh_quads
from kg.sources.mesh import iter_mesh_file, iter_trees
from kg.store import Store
from kg.vocab import DATA, KG, XSD

__all__ = ["IC_GRAPH", "MeshLoadReport", "load_mesh", "update_information_content"]

logger = logging.getLogger(__name__)

IC_GRAPH: Final = DATA["graph/mesh-statistics"]
_YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")
_PAIRS: Final = """PREFIX kg: <https://w3id.org/trialkg/vocab/>
SELECT ?trial ?concept WHERE {
  VALUES ?p { kg:conditionMesh kg:interventionMesh kg:registryConditionAncestor kg:registryInterventionAncestor }
  ?trial ?p ?concept
}"""
_ANCESTORS: Final = "PREFIX kg: <https://w3id.org/trialkg/vocab/> SELECT ?c ?a WHERE { ?c kg:ancestor ?a }"
_TRIALS: Final = "SELECT (COUNT(?t) AS ?n) WHERE { ?t a <https://schema.org/MedicalTrial> }"


@dataclass
class MeshLoadReport:
    descriptors: int = 0
    supplementary: int = 0
    quads: int = 0
    version: str = ""
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def load_mesh(store: Store, paths: Iterable[Path | str], *, version: str | None = None) -> MeshLoadReport:
    """Replace the store's MeSH graph with the vocabulary in ``paths`` (descriptor, supplementary and mtrees
    files, any order), then recompute information content. The year is read from the file names unless given."""
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
    update_information_content(store)
    refresh_saved_index(store)  # kg mesh load on a store that has a related-trials index beside it
    report.seconds = time.perf_counter() - started
    for problem in report.problems:
        logger.info("%s", problem)  # callers report them (kg build / kg mesh load print each)
    return report


def update_information_content(store: Store) -> int:
    """Store, per MeSH concept, how many trials sit at or under it and its information content
    ``-ln(trials at or under / all trials)``: rare concepts carry more information than Neoplasms.

    "Under" follows the loaded hierarchy (``kg:ancestor``) and, for every trial, the registry's own ancestor
    lists, so the figures exist with or without a MeSH file. Returns the number of concepts scored."""
    total = int(store.select(_TRIALS).rows[0]["n"] or 0)
    # Concepts as small integers and the (trial, concept) pairs streamed: at 600k trials there are ~11.5M pairs,
    # which as materialised rows took 6 GiB.
    numbers: dict[str, int] = {}
    closure: dict[int, set[int]] = {}
    for concept, ancestor in store.solutions(_ANCESTORS, "c", "a"):
        closure.setdefault(numbers.setdefault(concept, len(numbers)), set()).add(
            numbers.setdefault(ancestor, len(numbers))
        )
    under: dict[str, set[int]] = {}
    for trial, concept in store.solutions(_PAIRS, "trial", "concept"):
        number = numbers.setdefault(concept, len(numbers))
        reached = under.setdefault(trial, set())
        reached.add(number)
        reached.update(closure.get(number, ()))
    counts = Counter(number for reached in under.values() for number in reached)
    iris = list(numbers)
    quads = []
    for number, count in counts.items():
        node = NamedNode(iris[number])
        ic = -math.log(count / total) if total else 0.0
        quads.append(Quad(node, KG.trialsAtOrUnder, Literal(str(count), datatype=XSD.integer), IC_GRAPH))
        quads.append(Quad(node, KG.informationContent, Literal(f"{ic:.6f}", datatype=XSD.decimal), IC_GRAPH))
    store.replace_graphs({IC_GRAPH: quads})
    return len(counts)
