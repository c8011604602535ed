"""The knowledge graph projected to networkx, for notebooks and for Gephi/Cytoscape (GraphML).

Two projections: the bipartite trial-concept graph (a trial linked to its MeSH terms and their ancestors) and a
weighted trial-trial similarity graph (weight = information content of the specific concepts two trials share).
Both are fetched with a handful of SPARQL SELECTs and built in Python; every attribute is a GraphML-safe
``str``/``int``/``float``/``bool`` so that ``networkx.write_graphml`` never fails on a node.
"""

from __future__ import annotations

import heapq
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

import networkx as nx

from kg.analysis.hierarchy import concept_facts, mesh_loaded
from kg.store import Store
from kg.vocab import SPARQL_PROLOGUE

__all__ = [
    "DEFAULT_MIN_IC",
    "bipartite_graph",
    "centrality",
    "clean_text",
    "communities",
    "components",
    "similarity_graph",
    "summary",
    "write_graphml",
]

logger = logging.getLogger(__name__)

DEFAULT_MIN_IC: Final = 2.0
"""Concepts under which more than e^-2 ≈ 13.5 % of all trials sit (Neoplasms, Organic Chemicals…) say little
about how two trials relate and make the pair count quadratic, so the similarity graph ignores them."""
DEFAULT_SEED: Final = 42
SHARED_LABELS: Final = 3
UNKNOWN_DEPTH: Final = -1

_TRIAL_PREFIX: Final = "https://clinicaltrials.gov/study/"
_MESH_PREFIX: Final = "http://id.nlm.nih.gov/mesh/"
_TRIALS: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?nct (SAMPLE(?name) AS ?title) (SAMPLE(?official) AS ?official_title) (SAMPLE(?st) AS ?status)
       (GROUP_CONCAT(DISTINCT STR(?ph); separator=" ") AS ?phases) (SAMPLE(?syn) AS ?synthetic)
WHERE {
  ?trial a schema:MedicalTrial ; dcterms:identifier ?nct .
  OPTIONAL { ?trial schema:name ?name }
  OPTIONAL { ?trial kg:officialTitle ?official }
  OPTIONAL { ?trial kg:overallStatus ?st }
  OPTIONAL { ?trial kg:phase ?ph }
  OPTIONAL { ?trial kg:synthetic ?syn }
} GROUP BY ?nct"""
)
_TERMS: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?trial ?role ?concept WHERE {
  VALUES (?p ?role) { (kg:conditionMesh "condition") (kg:interventionMesh "intervention") }
  ?trial ?p ?concept
}"""
)
_REGISTRY_ANCESTORS: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?trial ?role ?concept WHERE {
  VALUES (?p ?role) { (kg:registryConditionAncestor "condition") (kg:registryInterventionAncestor "intervention") }
  ?trial ?p ?concept
}"""
)
_LOADED_ANCESTORS: Final = (
    SPARQL_PROLOGUE
    + """SELECT DISTINCT ?term ?ancestor WHERE {
  VALUES ?p { kg:conditionMesh kg:interventionMesh }  # 50x faster in Oxigraph than the path kg:a|kg:b
  ?trial ?p ?term . ?term kg:ancestor ?ancestor
}"""
)
# XML 1.0 cannot hold C0 controls other than tab/newline/CR, surrogates or U+FFFE/U+FFFF; C1 controls are legal
# but invisible trouble in every viewer, so they go too.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACE: Final = re.compile(r"\s+")


@dataclass
class _Concept:
    label: str
    ic: float = 0.0
    depth: int = UNKNOWN_DEPTH
    roles: set[str] = field(default_factory=set)


@dataclass
class _Links:
    """Per trial, per concept: the roles it is reached in and whether it is one of the trial's own terms."""

    roles: dict[str, dict[str, set[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    direct: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def clean_text(value: object) -> str:
    """Text GraphML can carry and Gephi can show on one line: no XML-illegal characters, runs of whitespace as one
    space (XML parsers rewrite CR, so a multi-line title would not round-trip anyway)."""
    return _SPACE.sub(" ", _NOT_XML.sub("", str(value or ""))).strip()


def _local(iri: object, prefix: str) -> str:
    return str(iri).removeprefix(prefix)


def _trial_nodes(store: Store) -> dict[str, dict[str, Any]]:
    """NCT id → node attributes (the code of each enumeration value is the end of its IRI)."""
    nodes: dict[str, dict[str, Any]] = {}
    for row in store.select(_TRIALS).rows:
        phases = sorted(str(phase).rsplit("/", 1)[-1] for phase in str(row["phases"] or "").split())
        nodes[str(row["nct"])] = {
            "kind": "trial",
            "label": str(row["nct"]),  # what Gephi and Cytoscape show on a node by default
            "title": clean_text(row["title"] or row["official_title"]),
            "phase": "|".join(phases),
            "status": str(row["status"] or "").rsplit("/", 1)[-1],
            "synthetic": row["synthetic"] is True,
        }
    return nodes


def _links(store: Store) -> _Links:
    """Each trial's MeSH terms and their ancestors: the loaded hierarchy when there is one, else the registry's."""
    links = _Links()
    terms = store.select(_TERMS).rows
    for row in terms:
        trial, concept = _local(row["trial"], _TRIAL_PREFIX), _local(row["concept"], _MESH_PREFIX)
        links.roles[trial][concept].add(str(row["role"]))
        links.direct[trial].add(concept)
    if mesh_loaded(store):
        closure: dict[str, set[str]] = defaultdict(set)
        for row in store.select(_LOADED_ANCESTORS).rows:
            closure[_local(row["term"], _MESH_PREFIX)].add(_local(row["ancestor"], _MESH_PREFIX))
        for row in terms:
            trial, term = _local(row["trial"], _TRIAL_PREFIX), _local(row["concept"], _MESH_PREFIX)
            for ancestor in closure.get(term, ()):
                links.roles[trial][ancestor].add(str(row["role"]))
    else:
        for row in store.select(_REGISTRY_ANCESTORS).rows:
            trial, concept = _local(row["trial"], _TRIAL_PREFIX), _local(row["concept"], _MESH_PREFIX)
            links.roles[trial][concept].add(str(row["role"]))
    return links


def _concepts(store: Store) -> dict[str, _Concept]:
    """MeSH UI → label (preferred, else the registry's spelling, else the UI), information content and depth."""
    return {
        _local(iri, _MESH_PREFIX): _Concept(
            label=clean_text(facts.label),
            ic=facts.information_content,
            depth=UNKNOWN_DEPTH if facts.depth is None else facts.depth,
        )
        for iri, facts in concept_facts(store).items()
    }


def _role(roles: set[str]) -> str:
    return "+".join(sorted(roles))


def bipartite_graph(store: Store, *, min_depth: int = 0) -> nx.Graph:
    """Trials (``kind="trial"``) linked to MeSH concepts (``kind`` = the role they are reached in) by edges with
    ``role`` and ``direct`` (the trial's own term, else an ancestor). Ancestors shallower than ``min_depth`` are
    left out (``min_depth=2`` drops the MeSH tree tops like Neoplasms); terms and concepts of unknown depth stay."""
    graph = nx.Graph(name="kg trial-concept graph")
    trials = _trial_nodes(store)
    graph.add_nodes_from(sorted(trials.items()))  # a fixed node order keeps Louvain and the GraphML file stable
    concepts = _concepts(store)
    links = _links(store)
    for trial in sorted(links.roles.keys() & trials.keys()):
        for ui, roles in sorted(links.roles[trial].items()):
            direct = ui in links.direct[trial]
            concept = concepts.setdefault(ui, _Concept(label=ui))
            if not direct and UNKNOWN_DEPTH < concept.depth < min_depth:
                continue
            concept.roles |= roles
            graph.add_edge(trial, ui, role=_role(roles), direct=direct)
    for ui in sorted(graph.nodes - trials.keys()):
        concept = concepts[ui]
        graph.add_node(ui, kind=_role(concept.roles), label=concept.label, depth=concept.depth, ic=concept.ic)
    logger.info(
        "bipartite graph: %d trials, %d concepts, %d edges", len(trials), len(graph) - len(trials), graph.size()
    )
    return graph


def similarity_graph(store: Store, *, min_ic: float = DEFAULT_MIN_IC, top_k: int = 10) -> nx.Graph:
    """Trials linked by the information content they share: weight = Σ IC of the concepts (MeSH terms and
    ancestors) both reach with IC ≥ ``min_ic``. An edge is kept when it is among the ``top_k`` strongest of either
    trial, so the graph stays sparse at any scale; ``shared`` names the most specific shared concepts."""
    bipartite = bipartite_graph(store)
    trials = {node: data for node, data in bipartite.nodes(data=True) if data["kind"] == "trial"}
    specific = {
        node: data for node, data in bipartite.nodes(data=True) if data["kind"] != "trial" and data["ic"] >= min_ic
    }
    index: dict[str, list[str]] = {ui: sorted(set(bipartite[ui]) & trials.keys()) for ui in specific}
    reached = {trial: {ui for ui in bipartite[trial] if ui in specific} for trial in trials}
    graph = nx.Graph(name="kg trial similarity graph", min_ic=min_ic, top_k=top_k)
    graph.add_nodes_from(trials.items())
    for trial in sorted(trials):
        for weight, other in _strongest(trial, reached[trial], index, specific, top_k):
            if graph.has_edge(trial, other):
                continue
            shared = sorted(reached[trial] & reached[other], key=lambda ui: (-specific[ui]["ic"], ui))
            graph.add_edge(
                trial,
                other,
                weight=weight,
                n_shared=len(shared),
                shared="; ".join(specific[ui]["label"] for ui in shared[:SHARED_LABELS]),
            )
    logger.info("similarity graph: %d trials, %d edges (min_ic=%s, top_k=%d)", len(graph), graph.size(), min_ic, top_k)
    return graph


def _strongest(
    trial: str, reached: set[str], index: dict[str, list[str]], specific: dict[str, dict[str, Any]], top_k: int
) -> list[tuple[float, str]]:
    """The ``top_k`` trials sharing most information with ``trial`` (ties broken by NCT id, for reproducibility)."""
    scores: Counter[str] = Counter()
    for ui in sorted(reached):  # a fixed summation order, and rounding, keep ties ties across processes
        ic = specific[ui]["ic"]
        for other in index[ui]:
            scores[other] += ic
    scores.pop(trial, None)
    best = heapq.nsmallest(top_k, ((-round(weight, 6), other) for other, weight in scores.items() if weight > 0))
    return [(-weight, other) for weight, other in best]


def communities(graph: nx.Graph, *, seed: int = DEFAULT_SEED, resolution: float = 1.0) -> list[set[str]]:
    """Louvain communities on ``weight`` (largest first); the seed makes them the same on every run."""
    found = nx.community.louvain_communities(graph, weight="weight", resolution=resolution, seed=seed)
    return sorted((set(community) for community in found), key=lambda c: (-len(c), min(c)))


def components(graph: nx.Graph) -> list[set[str]]:
    """Connected components, largest first: islands of trials that share no specific concept with the rest."""
    return sorted((set(component) for component in nx.connected_components(graph)), key=lambda c: (-len(c), min(c)))


def centrality(
    graph: nx.Graph, *, top: int = 10, betweenness_sample: int = 500, seed: int = DEFAULT_SEED
) -> list[dict[str, Any]]:
    """The ``top`` nodes by weighted degree, with degree and betweenness. Betweenness is exact up to
    ``betweenness_sample`` nodes and estimated from that many sources beyond (it is cubic otherwise); it counts
    hops, since a similarity weight is a closeness, not a distance."""
    sample = betweenness_sample if len(graph) > betweenness_sample else None
    betweenness = nx.betweenness_centrality(graph, k=sample, seed=seed)
    weighted = dict(graph.degree(weight="weight"))
    ranked = sorted(graph.nodes, key=lambda node: (-weighted[node], node))[:top]
    return [
        {
            "node": node,
            "label": graph.nodes[node].get("title") or graph.nodes[node].get("label", ""),
            "degree": graph.degree(node),
            "weighted_degree": round(float(weighted[node]), 6),
            "betweenness": round(betweenness[node], 6),
        }
        for node in ranked
    ]


def summary(graph: nx.Graph, *, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Node and edge counts, components, and the Louvain communities' number and modularity."""
    parts = components(graph)
    found = communities(graph, seed=seed) if graph.number_of_edges() else [{node} for node in graph]
    return {
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "components": len(parts),
        "largest_component": len(parts[0]) if parts else 0,
        "communities": len(found),
        "modularity": round(nx.community.modularity(graph, found, weight="weight"), 4)
        if graph.number_of_edges()
        else 0.0,
    }


def write_graphml(store: Store, output: Path | BinaryIO, *, kind: str = "similarity") -> nx.Graph:
    """Write the ``similarity`` or ``bipartite`` graph of a store as GraphML (for Gephi or Cytoscape)."""
    if kind not in ("similarity", "bipartite"):
        raise ValueError(f"unknown graph {kind!r}: use similarity or bipartite")
    graph = similarity_graph(store) if kind == "similarity" else bipartite_graph(store)
    nx.write_graphml(graph, output)
    return graph
