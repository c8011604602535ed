"""The build pipeline: records from files → de-duplicated by NCT id → quads → a fresh store, swapped in whole."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

from pyoxigraph import Literal, Quad

from kg.analysis.related import refresh_saved_index
from kg.build_mesh import MeshLoadReport, load_mesh, update_information_content
from kg.mapping import RecordError, enumeration_quads, map_study, nct_id_of, study_last_update, trial_graph
from kg.sources.ctgov import SourceProblem, iter_records
from kg.store import Store, fresh_store
from kg.vocab import DATA, KG, PROV, RDF, XSD

__all__ = ["BUILD_GRAPH", "PRUNE_ORPHANS", "BuildFailed", "BuildReport", "build", "load_records"]

logger = logging.getLogger(__name__)

BUILD_GRAPH: Final = DATA["graph/build"]
_BUILD: Final = DATA["build"]
_FLUSH_QUADS: Final = 100_000
#: Shared nodes no trial graph points to any more (left by a record replaced with a newer version).
PRUNE_ORPHANS: Final = """
DELETE { GRAPH <https://w3id.org/trialkg/id/graph/nodes> { ?node ?p ?o } }
WHERE {
  GRAPH <https://w3id.org/trialkg/id/graph/nodes> { ?node ?p ?o }
  FILTER NOT EXISTS {
    GRAPH ?g { ?trial ?link ?node }
    FILTER(STRSTARTS(STR(?g), "https://w3id.org/trialkg/id/graph/NCT"))
  }
}"""
_KEPT_MESSAGES: Final = 1_000


class BuildFailed(RuntimeError):
    """``--strict`` met a problem, or nothing could be read; the previous store is untouched."""

    def __init__(self, report: BuildReport) -> None:
        reason = "no trial could be read" if report.trials == 0 else f"{len(report.problems)} problem(s) in strict mode"
        super().__init__(f"{reason}; the previous store is untouched")
        self.report = report


@dataclass
class BuildReport:
    """What a build read, kept, skipped and why: printed by ``kg build`` and stored for ``kg stats``."""

    trials: int = 0
    records: int = 0
    duplicates_dropped: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    quads: int = 0
    seconds: float = 0.0
    mesh: MeshLoadReport | None = None

    @property
    def skipped(self) -> int:
        return len(self.problems)


def load_records(
    store: Store, paths: Iterable[Path | str], report: BuildReport, *, on_record: Callable[[], None] | None = None
) -> None:
    """Map and add every record under ``paths`` to ``store``; a later duplicate replaces an earlier one
    only when its ``lastUpdatePostDate`` is newer. Memory holds one batch plus an id → date index."""
    seen: dict[str, str] = {}
    batch: list[Quad] = []
    replaced = False
    for item in iter_records(paths):
        if on_record is not None:
            on_record()
        if isinstance(item, SourceProblem):
            report.problems.append(str(item))
            logger.warning("%s", item)
            continue
        report.records += 1
        try:
            mapped = map_study(item.study)
        except RecordError as error:
            nct_id = nct_id_of(item.study)
            message = f"{item.where}{' ' + nct_id if nct_id else ''}: {error}; record skipped"
            report.problems.append(message)
            logger.warning("%s", message)
            continue
        report.warnings.extend(f"{item.where} {mapped.nct_id}: {text}" for text in mapped.warnings)
        last_update = study_last_update(item.study)
        previous = seen.get(mapped.nct_id)
        seen[mapped.nct_id] = max(last_update, previous or "")
        if previous is not None:
            report.duplicates_dropped += 1
            if last_update <= previous:
                continue
            store.add(batch)
            batch = []
            replaced = True
            graph = trial_graph(mapped.nct_id)
            store.replace_graphs({graph: [quad for quad in mapped.quads if quad.graph_name == graph]})
            store.add(quad for quad in mapped.quads if quad.graph_name != graph)
            continue
        batch.extend(mapped.quads)
        if len(batch) >= _FLUSH_QUADS:
            store.add(batch)
            batch = []
    store.add(batch)
    report.trials = len(seen)
    if replaced:
        store.update(PRUNE_ORPHANS)


def build(
    paths: list[Path | str],
    spec: str | None = None,
    *,
    strict: bool = False,
    on_record: Callable[[], None] | None = None,
    mesh: list[Path] | None = None,
) -> BuildReport:
    """Build a new store from the given files and directories (and MeSH files, if given) and swap it in when
    complete. Information content is computed either way: from the loaded hierarchy, else the registry's lists."""
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    report = BuildReport(sources=[str(path) for path in paths])
    with fresh_store(spec) as store:
        store.add(enumeration_quads())
        load_records(store, paths, report, on_record=on_record)
        if (strict and report.problems) or report.trials == 0:
            raise BuildFailed(report)
        if mesh:
            report.mesh = load_mesh(store, mesh)
        else:
            update_information_content(store)
        report.seconds = time.perf_counter() - clock
        store.add(_build_quads(report, started))
        report.quads = len(store)
    refresh_saved_index(spec)  # the related-trials index beside an on-disk store, rebuilt with it
    return report


def _build_quads(report: BuildReport, started: datetime) -> list[Quad]:
    """The build's own provenance, in its own graph: what ``kg stats`` reports later."""

    def lit(value: object, datatype: str) -> Literal:
        return Literal(str(value), datatype=XSD[datatype])

    b, g = _BUILD, BUILD_GRAPH
    ended = datetime.now(timezone.utc)
    quads = [
        Quad(b, RDF.type, PROV.Activity, g),
        Quad(b, RDF.type, KG.Build, g),
        Quad(b, PROV.startedAtTime, lit(started.isoformat(), "dateTime"), g),
        Quad(b, PROV.endedAtTime, lit(ended.isoformat(), "dateTime"), g),
        Quad(b, KG.trialCount, lit(report.trials, "integer"), g),
        Quad(b, KG.recordCount, lit(report.records, "integer"), g),
        Quad(b, KG.skippedCount, lit(report.skipped, "integer"), g),
        Quad(b, KG.duplicatesDropped, lit(report.duplicates_dropped, "integer"), g),
        Quad(b, KG.warningCount, lit(len(report.warnings), "integer"), g),
    ]
    quads += [Quad(b, KG.source, Literal(source), g) for source in report.sources]
    quads += [Quad(b, KG.problem, Literal(text), g) for text in report.problems[:_KEPT_MESSAGES]]
    return quads
