"""SHACL validation of a store against ``ontologies/shapes*.ttl`` (pyshacl over rdflib), chunk by chunk of trials."""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Final

import pyshacl
from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH
from rdflib.term import Node

from kg.graphs import BUILD_GRAPH, CHANGES_GRAPH, ENUM_GRAPH, NODES_GRAPH
from kg.pipeline.processes import FORKING, in_order
from kg.resources import SHAPE_FILES, Traversable, ontology_file
from kg.store import Store
from kg.vocab import DATA, PREFIXES

__all__ = ["DEFAULT_SHAPES", "ValidationResult", "validate"]

logger = logging.getLogger(__name__)

DEFAULT_SHAPES: Final = tuple(ontology_file(name) for name in SHAPE_FILES)
#: Trials per pyshacl run: bounds memory (rdflib and pyshacl need ~0.4 MB per trial) at no cost in time.
CHUNK_TRIALS: Final = 250
#: Processes checking chunks at once (one per core up to this).
MAX_PROCESSES: Final = 8
_Checked = tuple[list[str], list[str], set[str]]
_TRIAL_GRAPHS: Final = str(DATA) + "graph/NCT"
_PREFIXES: Final = sorted(
    [*PREFIXES.items(), ("kgsh", "https://w3id.org/trialkg/shapes#"), ("sh", str(SH))],
    key=lambda item: -len(item[1]),
)
_MAX_VALUE: Final = 80
_IRI_IN_TEXT: Final = re.compile(r"<(https?://[^<>\s]+)>")


@dataclass
class ValidationResult:
    """The outcome of :func:`validate`: violations make it fail, warnings (unknown enumeration codes,
    a trial without a title) do not."""

    conforms: bool
    focus_nodes: int
    violations: list[str]
    report_text: str
    warnings: list[str] = field(default_factory=list)


def validate(
    store: Store, *, shapes: Sequence[Traversable] | None = None, limit: int | None = None
) -> ValidationResult:
    """Validate every trial graph (or the first ``limit`` by NCT id) with the shared nodes it references.

    Trials go to pyshacl in chunks of :data:`CHUNK_TRIALS`: each chunk is its trial graphs, the nodes of
    ``kgr:graph/nodes`` they reference (two hops: site → country), the enumeration individuals (so that
    class constraints hold) and the build graph. The 1,102 real trials (245k triples) take about 26 s of CPU
    (38 s on a busy machine), three quarters of it in pyshacl: as long as one run over the whole store, which
    was not slow enough to need chunks, but in 300 MB instead of 500 MB, and it lets ``limit`` pick trials; chunks
    are checked in processes, one per core. Shared nodes no trial references, and the MeSH graphs, are not checked.
    """
    clock = time.perf_counter()
    shapes_text = tuple(part.read_text(encoding="utf-8") for part in shapes or DEFAULT_SHAPES)
    trial_graphs = _trial_graphs(store)
    if limit is not None:
        trial_graphs = trial_graphs[:limit]
    chunks = [trial_graphs[start : start + CHUNK_TRIALS] for start in range(0, max(len(trial_graphs), 1), CHUNK_TRIALS)]
    focus: set[str] = set()
    violations: dict[str, None] = {}
    warnings: dict[str, None] = {}
    jobs = itertools.chain((_chunk_data(store, chunk) for chunk in chunks), filter(None, [_changes_data(store)]))
    for done, (found, warned, nodes) in enumerate(_checked(jobs, shapes_text, processes=len(chunks)), start=1):
        violations.update(dict.fromkeys(found))
        warnings.update(dict.fromkeys(warned))
        focus |= nodes
        logger.info("validated %d of %d parts, %.1f s so far", done, len(chunks) + 1, time.perf_counter() - clock)
    result = ValidationResult(not violations, len(focus), list(violations), "", list(warnings))
    result.report_text = _report_text(result, len(trial_graphs))
    logger.info(
        "validation: %d focus nodes, %d violations, %d warnings in %.1f s",
        result.focus_nodes,
        len(result.violations),
        len(result.warnings),
        time.perf_counter() - clock,
    )
    return result


def _checked(jobs: Iterable[bytes], shapes: tuple[str, ...], processes: int) -> Iterator[_Checked]:
    """:func:`_check` of each part, in order: in this process for one chunk of trials, else in forked processes (one
    per core, at most :data:`MAX_PROCESSES`), at most two parts in flight per process so memory stays bounded."""
    workers = min(processes, os.cpu_count() or 1, MAX_PROCESSES)
    if workers <= 1:
        for data in jobs:
            yield _check(data, shapes)
        return
    with ProcessPoolExecutor(workers, mp_context=FORKING) as pool:  # workers parse what they are sent, no store
        yield from in_order(pool, _check, ((data, shapes) for data in jobs), 2 * workers)


def _trial_graphs(store: Store) -> list[str]:
    """The trial graphs, by name rather than by typed trial, so a trial that lost its type is still checked."""
    rows = store.select(
        f"SELECT ?g WHERE {{ GRAPH ?g {{}} FILTER (STRSTARTS(STR(?g), {_TRIAL_GRAPHS!r})) }} ORDER BY ?g"
    ).rows
    return [str(row["g"]) for row in rows]


def _chunk_data(store: Store, trial_graphs: list[str]) -> bytes:
    """One chunk as N-Triples: trial graphs, the shared nodes they reference, vocabulary and build."""
    fixed = f"VALUES ?g {{ <{ENUM_GRAPH.value}> <{BUILD_GRAPH.value}> }} GRAPH ?g {{ ?s ?p ?o }}"
    queries = [f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {fixed} }}"]
    if trial_graphs:
        values = "VALUES ?g { " + " ".join(f"<{graph}>" for graph in trial_graphs) + " }"
        nodes = f"<{NODES_GRAPH.value}>"
        queries += [
            f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {values} GRAPH ?g {{ ?s ?p ?o }} }}",
            f"""CONSTRUCT {{ ?n ?p ?o }} WHERE {{
                {{ SELECT DISTINCT ?n WHERE {{
                    {{ {values} GRAPH ?g {{ ?x ?q ?n }} }}
                    UNION {{ {values} GRAPH ?g {{ ?x ?q ?m }} GRAPH {nodes} {{ ?m ?r ?n }} }}
                    FILTER (isIRI(?n))
                }} }}
                GRAPH {nodes} {{ ?n ?p ?o }}
            }}""",
        ]
    return b"".join(store.construct(query) for query in queries)


def _check(ntriples: bytes, shapes_text: tuple[str, ...]) -> _Checked:
    """One pyshacl run over N-Triples (picklable both ways, for a worker process): its violations, its warnings
    and the nodes it checked."""
    data = Graph()
    data.parse(data=ntriples, format="ox-ntriples")
    shapes = Graph()
    for text in shapes_text:
        shapes.parse(data=text, format="turtle")
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", allow_warnings=True)
    results = _results(report)
    violations = [line for severity, line in results if severity == SH.Violation]
    warnings = [line for severity, line in results if severity != SH.Violation]
    return violations, warnings, {node.n3() for node in _focus_nodes(data, shapes)}


def _changes_data(store: Store) -> bytes:
    """The change events and updates, checked in a pass of their own: they point to trials (removed ones too)
    only by IRI, so they need no trial graph beside them, and they would weigh on every chunk."""
    return store.construct(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{CHANGES_GRAPH.value}> {{ ?s ?p ?o }} }}")


def _focus_nodes(data: Graph, shapes: Graph) -> set[Node]:
    """The nodes the shapes target in ``data`` (pyshacl does not report them)."""
    nodes: set[Node] = set(shapes.objects(None, SH.targetNode))
    for cls in set(shapes.objects(None, SH.targetClass)):
        for subclass in data.transitive_subjects(RDFS.subClassOf, cls):
            nodes.update(data.subjects(RDF.type, subclass))
    for predicate in set(shapes.objects(None, SH.targetObjectsOf)):
        nodes.update(data.objects(None, predicate))
    for predicate in set(shapes.objects(None, SH.targetSubjectsOf)):
        nodes.update(data.subjects(predicate, None))
    return nodes


def _results(report: Graph) -> list[tuple[Node, str]]:
    """(severity, "focus path: message (value: …)") for every result of a pyshacl report."""
    lines = []
    for result in report.objects(None, SH.result):  # not the nested sh:detail results
        focus = _short(report.value(result, SH.focusNode))
        path = report.value(result, SH.resultPath)
        where = f"{focus} {_path_text(report, path)}" if path is not None else focus
        message = str(report.value(result, SH.resultMessage) or "does not conform")
        line = f"{where}: {_IRI_IN_TEXT.sub(lambda match: _short(URIRef(match[1])), message)}"
        value = report.value(result, SH.value)
        if value is not None:
            line += f" (value: {_short(value)})"
        lines.append((report.value(result, SH.resultSeverity) or SH.Violation, line))
    return sorted(lines, key=lambda item: item[1])


def _path_text(graph: Graph, path: Node) -> str:
    """A SHACL property path in SPARQL syntax: ``kg:position``, ``^kg:arm``, ``(kg:a|kg:b)``."""
    inverse = graph.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + _path_text(graph, inverse)
    alternatives = graph.value(path, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(_path_text(graph, item) for item in Collection(graph, alternatives)) + ")"
    return _short(path)


def _short(term: Node | None) -> str:
    """An IRI with our prefixes (``ctgov:NCT01234567``, ``kgr:trial/…/arm/1``), a literal with its datatype."""
    if isinstance(term, URIRef):
        for prefix, namespace in _PREFIXES:
            if term.startswith(namespace):
                return f"{prefix}:{term[len(namespace) :]}"
        return f"<{term}>"
    if isinstance(term, Literal):
        text = str(term) if len(term) <= _MAX_VALUE else str(term)[:_MAX_VALUE] + "…"
        if term.language:
            return f'"{text}"@{term.language}'
        return f'"{text}"^^{_short(term.datatype)}' if term.datatype else f'"{text}"'
    return str(term)


def _report_text(result: ValidationResult, trials: int) -> str:
    lines = [
        f"Conforms: {result.conforms}",
        f"{trials:,} trial graphs, {result.focus_nodes:,} focus nodes, {len(result.violations):,} violation(s),"
        f" {len(result.warnings):,} warning(s)",
    ]
    for title, items in (("Violations", result.violations), ("Warnings", result.warnings)):
        if items:
            lines += [f"{title}:", *(f"  {item}" for item in items)]
    return "\n".join(lines)
