"""Loading MeSH into a store: its own named graph, replaced as a unit, then information content recomputed."""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kg.analysis.indexes import refresh_saved_indexes
from kg.graphs import MESH_GRAPH
from kg.mesh.files import iter_mesh_file, iter_trees
from kg.mesh.mapping import MeshIndex, mesh_quads
from kg.pipeline.information_content import TrialTerms, update_information_content
from kg.store import Store

__all__ = ["MeshLoadReport", "load_mesh"]

logger = logging.getLogger(__name__)

_YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")


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
