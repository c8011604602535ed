"""Per-concept facts for pages that show many MeSH concepts at once, read from the store once and saved beside it.

An explorer page at depth 2 shows a few hundred MeSH concepts, each with its kind, names, tree numbers, depth, how
many trials sit at or under it, its information content and whether trials use it as a condition, and the broader,
pharmacological-action and mapped concepts that tie it into the hierarchy. Read from the store, that is two queries
(:data:`CONCEPT_QUERY`, :data:`PARENTS_QUERY`) per hop; at registry scale the store outgrows the page cache and those
reads go to disk. This index holds their rows for every concept with a name (a preferred label or the registry's
term), packed (:mod:`kg.analysis.packed`), and is saved like every other index (:mod:`kg.analysis.saved_index`).
The queries stay the definition and what other stores run: the index is built by running them over every named
concept at once (:func:`kg.queries.select_all`), and tests check it against them, concept by concept, on the real
records with and without the MeSH vocabulary.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from kg.analysis.packed import Packed
from kg.analysis.saved_index import SavedIndex
from kg.queries import select_all
from kg.store import Store, Value
from kg.vocab import MESH, SPARQL_PROLOGUE

__all__ = ["CONCEPT_FACTS_INDEX", "CONCEPT_QUERY", "PARENTS_QUERY", "ConceptFacts", "concept_facts"]

logger = logging.getLogger(__name__)

_FORMAT: Final = 1
Row = dict[str, Value]

#: One concept's facts (``?concept`` bound): a row per combination of its values.
CONCEPT_QUERY: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?concept ?type ?label ?registry ?tree ?depth ?trials ?ic ?as_condition WHERE {
  OPTIONAL { ?concept a ?type }
  OPTIONAL { ?concept skos:prefLabel ?label }
  OPTIONAL { ?concept kg:registryTerm ?registry }
  OPTIONAL { ?concept kg:treeNumber ?tree }
  OPTIONAL { ?concept kg:depth ?depth }
  OPTIONAL { ?concept kg:trialsAtOrUnder ?trials }
  OPTIONAL { ?concept kg:informationContent ?ic }
  # two EXISTS, not one over an alternative path, which Oxigraph evaluates with set semantics: 2x as fast
  BIND((EXISTS { ?trial kg:conditionMesh ?concept } || EXISTS { ?trial kg:registryConditionAncestor ?concept })
    AS ?as_condition)
}"""
)
#: One concept's broader descriptors, pharmacological actions and mapped descriptors (those in a MeSH tree).
PARENTS_QUERY: Final = (
    SPARQL_PROLOGUE
    + """SELECT DISTINCT ?concept ?relation ?parent WHERE {
  { ?concept skos:broader ?parent . BIND("broader" AS ?relation) }
  UNION { ?concept kg:pharmacologicalAction ?parent . BIND("pharmacological action" AS ?relation) }
  UNION { ?concept kg:mappedTo ?parent . BIND("maps to" AS ?relation) }
  ?parent kg:treeNumber ?tree .
}"""
)
#: The concepts the index holds: every MeSH concept with a name. One without is no node of a page (it has no
#: label to show), whatever else the store says of it.
_NAMED: Final = (
    "{ ?concept skos:prefLabel ?name } UNION { ?concept kg:registryTerm ?name } "
    "FILTER (STRSTARTS(STR(?concept), STR(mesh:)))"
)
_PARENT_COLUMNS: Final = ("relation", "parent")


@dataclass(frozen=True)
class ConceptFacts:
    """Per MeSH UI, the rows of :data:`CONCEPT_QUERY` (without ``concept``, in the order of ``columns``) and of
    :data:`PARENTS_QUERY` (relation, parent), packed."""

    fingerprint: str
    columns: tuple[str, ...]
    packed: Packed

    def concepts(self, uis: Iterable[str]) -> dict[str, list[Row]]:
        """UI → its :data:`CONCEPT_QUERY` rows, as ``select_many`` gives them (none for a concept without a name)."""
        return {ui: self._rows(ui, 0, self.columns) for ui in uis}

    def parents(self, uis: Iterable[str]) -> dict[str, list[Row]]:
        """UI → its :data:`PARENTS_QUERY` rows, as ``select_many`` gives them."""
        return {ui: self._rows(ui, 1, _PARENT_COLUMNS) for ui in uis}

    def _rows(self, ui: str, part: int, columns: tuple[str, ...]) -> list[Row]:
        found: tuple[tuple[tuple[Value, ...], ...], ...] | None = self.packed.get(ui)
        if found is None:
            return []
        concept = MESH.iri + ui
        return [{"concept": concept, **dict(zip(columns, values, strict=True))} for values in found[part]]


def concept_facts(store: Store) -> ConceptFacts | None:
    """The store's concept facts index where one pays (an embedded store, read whole fast), else None: run the
    queries."""
    return CONCEPT_FACTS_INDEX.load(store) if store.scans_fast else None


def build_concept_facts(store: Store) -> ConceptFacts:
    """Both queries' rows for every named concept, each query run once over all of them."""
    fingerprint = CONCEPT_FACTS_INDEX.fingerprint(store)
    concepts = select_all(store, CONCEPT_QUERY, "concept", _NAMED)
    parents = select_all(store, PARENTS_QUERY, "concept", _NAMED)
    columns = next((tuple(key for key in rows[0] if key != "concept") for rows in concepts.values()), ())

    def facts(ui: str) -> tuple[Any, ...]:
        iri = MESH.iri + ui
        own = tuple(tuple(row[column] for column in columns) for row in concepts[iri])
        tied = tuple(tuple(row[column] for column in _PARENT_COLUMNS) for row in parents.get(iri, ()))
        return own, tied

    uis = (ui for iri in concepts if (ui := iri.removeprefix(MESH.iri)).isascii())  # a page asks for D… and C… only
    packed = Packed.pack(uis, facts)
    logger.info("concept facts: %d concepts, %.1f MB", len(packed), len(packed.blob) / 1e6)
    return ConceptFacts(fingerprint, columns, packed)


CONCEPT_FACTS_INDEX: Final = SavedIndex("concept-facts", ConceptFacts, _FORMAT, build_concept_facts)
