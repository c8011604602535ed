"""Loading MeSH into a store: its own named graph, replaced as a unit, then information content recomputed."""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from kg.analysis.indexes import refresh_saved_indexes
from kg.errors import KgError
from kg.graphs import MESH_GRAPH
from kg.mesh.files import MeshProblem, iter_mesh_file, iter_trees
from kg.mesh.mapping import MeshIndex, mesh_quads
from kg.pipeline.information_content import TrialTerms, update_information_content
from kg.store import Store, open_store

__all__ = ["MeshLoadFailed", "MeshLoadReport", "MeshRead", "apply_mesh", "load_mesh", "load_mesh_into", "read_mesh"]

logger = logging.getLogger(__name__)

_Record = TypeVar("_Record")
_YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")


class MeshLoadFailed(KgError, ValueError):
    """The files hold no MeSH record, or more problems than records: not MeSH (``kg mesh load /etc/passwd``), or the
    wrong files; the store keeps its vocabulary."""


@dataclass(frozen=True)
class MeshRead:
    """MeSH files read and checked, before any store is touched."""

    index: MeshIndex
    version: str
    started: float


@dataclass
class MeshLoadReport:
    descriptors: int = 0
    supplementary: int = 0
    quads: int = 0
    version: str = ""
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: The indexes saved beside the store that were rebuilt, and the seconds each took.
    index_seconds: dict[str, float] = field(default_factory=dict)


def load_mesh(
    store: Store, paths: Iterable[Path | str], *, version: str | None = None, terms: TrialTerms | None = None
) -> MeshLoadReport:
    """Replace the store's MeSH graph with the vocabulary in ``paths`` (descriptor, supplementary and mtrees
    files, any order), then recompute information content (from ``terms`` when the caller has them). The year is
    read from the file names unless given, and the indexes saved beside the store are rebuilt here. Files that are
    not MeSH raise :class:`MeshLoadFailed` before the store is touched."""
    report = apply_mesh(store, read_mesh(paths, version=version), terms=terms)
    report.index_seconds = refresh_saved_indexes(store)
    return report


def read_mesh(paths: Iterable[Path | str], *, version: str | None = None) -> MeshRead:
    """Read and index MeSH files; :class:`MeshLoadFailed` when they hold no record, or more problems than records."""
    started = time.perf_counter()
    files = [Path(path) for path in paths]
    counts: Counter[str] = Counter()
    records = itertools.chain.from_iterable(
        iter_trees(file) if file.name.startswith("mtrees") else iter_mesh_file(file) for file in files
    )
    index = MeshIndex.from_records(_counted(records, counts))
    names = ", ".join(str(file) for file in files)
    if counts["records"] == 0 or counts["problems"] > counts["records"]:
        raise MeshLoadFailed(
            f"{names}: {counts['records']:,} MeSH record(s) and {counts['problems']:,} problem(s): not MeSH files "
            "(d2025.bin, c2025.bin, mtrees2025.bin); nothing was loaded, the store keeps its vocabulary"
        )
    years = sorted({match.group(0) for file in files if (match := _YEAR.search(file.name))})
    return MeshRead(index, version or "/".join(years) or "unknown", started)


def _counted(records: Iterable[_Record], counts: Counter[str]) -> Iterator[_Record]:
    for record in records:
        counts["problems" if isinstance(record, MeshProblem) else "records"] += 1
        yield record


def load_mesh_into(spec: str | None, read: MeshRead) -> MeshLoadReport:
    """``kg mesh load``: replace the MeSH graph of the store at ``spec`` (created if there is none yet) with files
    already read, close it, then rebuild the indexes saved beside it, side by side in processes at scale (at 600k
    trials about 29 minutes one after another, against 16 in the two processes of a build)."""
    with open_store(spec, create=True) as store:
        report = apply_mesh(store, read)
    report.index_seconds = refresh_saved_indexes(spec, saved_only=True)
    return report


def apply_mesh(store: Store, read: MeshRead, *, terms: TrialTerms | None = None) -> MeshLoadReport:
    """Replace the store's MeSH graph with files already read and recompute information content (see
    :func:`load_mesh`); the callers rebuild the saved indexes."""
    index, started = read.index, read.started
    report = MeshLoadReport(version=read.version)
    quads = list(mesh_quads(index, version=report.version))
    report.problems = list(index.problems) + index.unresolved_headings()
    store.replace_graphs({MESH_GRAPH: quads})
    report.descriptors, report.supplementary, report.quads = len(index.descriptors), len(index.concepts), len(quads)
    update_information_content(store, terms)
    report.seconds = time.perf_counter() - started
    for problem in report.problems:
        logger.info("%s", problem)  # callers report them (kg build / kg mesh load print each)
    return report
