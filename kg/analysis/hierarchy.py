"""MeSH hierarchy over a store: resolve ids or labels, ancestors, and a trial's condition/intervention hierarchies
(from the loaded vocabulary, or the registry's own lists when none is loaded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kg.identifiers import normalize_mesh_id
from kg.queries import QueryError, run
from kg.store import QueryResult, Store
from kg.vocab import MESH, SPARQL_PROLOGUE

__all__ = [
    "ConceptFacts",
    "ancestor_table",
    "ancestors",
    "concept_facts",
    "mesh_loaded",
    "require_concept",
    "resolve_concepts",
    "trial_hierarchy",
]

_LOADED = "ASK { ?c a <https://w3id.org/trialkg/vocab/MeshDescriptor> }"
_CONCEPT_FACTS = (
    SPARQL_PROLOGUE
    + """SELECT ?concept ?ic ?label ?registry ?depth WHERE {
  ?concept kg:informationContent ?ic .
  OPTIONAL { ?concept skos:prefLabel ?label }
  OPTIONAL { ?concept kg:registryTerm ?registry }
  OPTIONAL { ?concept kg:depth ?depth }
}"""
)


@dataclass(frozen=True)
class ConceptFacts:
    """What analyses need of a MeSH concept a trial reaches."""

    label: str  # the preferred label, else the registry's spelling, else the UI; the smallest if several
    information_content: float
    depth: int | None  # None without a MeSH file (the registry's lists carry no depth)


def concept_facts(store: Store) -> dict[str, ConceptFacts]:
    """Concept IRI → its facts, for every concept with an information content (every one a trial reaches).

    Shared by the related-trials index and the networkx projections, so both label and weigh concepts alike.
    """
    labels: dict[str, set[str]] = {}
    registry: dict[str, set[str]] = {}
    ic: dict[str, float] = {}
    depth: dict[str, int] = {}
    for row in store.select(_CONCEPT_FACTS).rows:
        iri = str(row["concept"])
        ic[iri] = float(row["ic"] or 0.0)
        if row["label"]:
            labels.setdefault(iri, set()).add(str(row["label"]))
        if row["registry"]:
            registry.setdefault(iri, set()).add(str(row["registry"]))
        if isinstance(row["depth"], int):
            depth[iri] = min(depth.get(iri, row["depth"]), row["depth"])
    return {
        iri: ConceptFacts(
            label=min(labels.get(iri) or registry.get(iri) or {iri.rsplit("/", 1)[-1]}),
            information_content=value,
            depth=depth.get(iri),
        )
        for iri, value in ic.items()
    }


def mesh_loaded(store: Store) -> bool:
    return bool(store.select(_LOADED).rows[0]["ask"])


def require_concept(store: Store, ui: str, given: str | None = None) -> None:
    """Raise :class:`QueryError` unless the store knows the MeSH concept ``ui``: from the loaded vocabulary or from
    a trial that names it. A well-formed id the store has never seen is a typo far more often than an empty answer."""
    iri = str(MESH[ui])  # a normalised UI: letters and digits only
    if not store.select(f"ASK {{ {{ {iri} ?p ?o }} UNION {{ ?s ?p {iri} }} }}").rows[0]["ask"]:
        where = "the loaded MeSH vocabulary nor any trial" if mesh_loaded(store) else "any trial (no MeSH is loaded)"
        named = ui if given in (None, ui) else f"{given} ({ui})"
        raise QueryError(f"unknown MeSH concept {named}: neither {where} of this store has it")


def resolve_concepts(store: Store, key: str) -> list[str]:
    """MeSH UIs for an id (any spelling) or an exact label, preferred or entry term, case-insensitive."""
    try:
        return [normalize_mesh_id(key)]
    except ValueError:
        pass
    return [str(row["id"]) for row in run(store, "concepts_by_label", {"label": key.strip()}).rows if row["id"]]


def ancestors(store: Store, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """For each given id or label, its ancestors as ``{"id", "label", "depth"}``, deepest first."""
    if not mesh_loaded(store):
        raise QueryError(
            "no MeSH vocabulary is loaded in this store: run `kg mesh load d2024.bin c2024.bin` "
            "(or `kg mesh download --load`)"
        )
    answer: dict[str, list[dict[str, Any]]] = {}
    for key in keys:
        uis = resolve_concepts(store, key)
        if not uis:
            raise QueryError(f"no MeSH concept with the id or label {key!r}")
        for ui in uis:
            require_concept(store, ui, key)
        for ui in uis:
            label = key if len(uis) == 1 else f"{key} ({ui})"
            answer[label] = run(store, "ancestors", {"concept": ui}).rows
    return answer


def ancestor_table(store: Store, keys: list[str]) -> QueryResult:
    """:func:`ancestors` as one table (``concept``, ``id``, ``label``, ``depth``): the rows of ``kg ancestors``."""
    rows = [{"concept": key, **row} for key, found in ancestors(store, keys).items() for row in found]
    return QueryResult(["concept", "id", "label", "depth"], rows)


def trial_hierarchy(store: Store, nct_id: str) -> dict[str, Any]:
    """A trial's condition and intervention ancestors, as on the reference trial page, and where they come from."""
    if mesh_loaded(store):
        rows = run(store, "trial_hierarchy", {"nct": nct_id}).rows
        source = "MeSH vocabulary (loaded)"
    else:
        rows = [
            {"role": str(row["role"]).removesuffix(" ancestor"), "id": row["mesh_id"], "label": row["term"]}
            for row in run(store, "trial_mesh", {"nct": nct_id}).rows
            if str(row["role"]).endswith("ancestor")
        ]
        source = "the registry's derived ancestor lists (no MeSH file loaded)"
    hierarchy: dict[str, Any] = {"source": source, "condition": [], "intervention": []}
    for row in rows:
        hierarchy[str(row["role"])].append({key: value for key, value in row.items() if key != "role"})
    return hierarchy
