"""The concept facts index holds, for every named MeSH concept, exactly the rows its two queries give (facts and
parents), on the real records built with NLM's MeSH files and without any (the registry's own terms); a concept
without a name has none; the explorer draws the same page from it as from the queries; and the values packed come
back with their types."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pyoxigraph import NamedNode

import kg.views.explorer_data as explorer_data_module
from kg.analysis.concept_facts import CONCEPT_QUERY, PARENTS_QUERY, ConceptFacts, build_concept_facts
from kg.analysis.packed import Packed
from kg.queries import select_many
from kg.store import Store, Value
from kg.views.explorer_data import explorer_data
from kg.vocab import MESH
from tests.conftest import LUTETIUM, NEOPLASMS

_NAMED = """SELECT DISTINCT ?concept WHERE {
  { ?concept <http://www.w3.org/2004/02/skos/core#prefLabel> ?name }
  UNION { ?concept <https://w3id.org/trialkg/vocab/registryTerm> ?name }
  FILTER (STRSTARTS(STR(?concept), "http://id.nlm.nih.gov/mesh/"))
}"""


def _as_multiset(rows: list[dict[str, Value]]) -> list[str]:
    """Rows in a fixed order (the queries leave it open), each with its values' types."""
    return sorted(repr(sorted((key, type(value).__name__, value) for key, value in row.items())) for row in rows)


_TRIAL_TERMS = """SELECT DISTINCT ?concept WHERE {
  ?trial <https://w3id.org/trialkg/vocab/conditionMesh>|<https://w3id.org/trialkg/vocab/interventionMesh> ?concept
}"""


def _assert_rows_equal(store: Store, facts: ConceptFacts) -> list[str]:
    """The index holds every concept the store names, and no other; the rows both queries give each concept a real
    trial names and every fifth of the others (all ~38k at once took a minute); the UIs named."""
    named = sorted(str(row["concept"]).removeprefix(MESH.iri) for row in store.select(_NAMED).rows)
    assert sorted(key.decode() for key in facts.packed.keys) == named
    used = {str(row["concept"]).removeprefix(MESH.iri) for row in store.select(_TRIAL_TERMS).rows}
    checked = sorted(used | set(named[::5]))
    terms = [NamedNode(MESH.iri + ui) for ui in checked]
    for query, held in ((CONCEPT_QUERY, facts.concepts(checked)), (PARENTS_QUERY, facts.parents(checked))):
        queried = select_many(store, query, "concept", terms)
        different = [ui for ui in checked if _as_multiset(held[ui]) != _as_multiset(queried[MESH.iri + ui])]
        assert different == [], different[:5]
    return named


@pytest.fixture(scope="module")
def mesh_facts(real_mesh_store: Store) -> ConceptFacts:
    return build_concept_facts(real_mesh_store)


def test_every_named_concept_has_its_rows_with_the_mesh_vocabulary(
    real_mesh_store: Store, mesh_facts: ConceptFacts
) -> None:
    facts = mesh_facts
    named = _assert_rows_equal(real_mesh_store, facts)
    assert len(named) > 30_000  # NLM's descriptors and supplementary concepts, not only those the trials use
    lutetium = facts.concepts([LUTETIUM])[LUTETIUM]
    assert {row["label"] for row in lutetium} == {"Lutetium"}
    assert {row["relation"] for row in facts.parents([LUTETIUM])[LUTETIUM]} == {"broader"}
    neoplasms = facts.concepts([NEOPLASMS])[NEOPLASMS]
    assert all(isinstance(row["trials"], int) and row["trials"] > 50 for row in neoplasms)
    assert all(row["as_condition"] is True for row in neoplasms)
    assert len(facts.packed.blob) < 200 * len(named)  # packed: a few hundred bytes a concept before


def test_every_named_concept_has_its_rows_from_the_registry_alone(real_store: Store) -> None:
    """Without MeSH files a concept's name is the registry's term, and no concept has parents."""
    facts = build_concept_facts(real_store)
    named = _assert_rows_equal(real_store, facts)
    assert len(named) > 500
    first = facts.concepts(named[:50])
    assert all(row["label"] is None and row["registry"] for rows in first.values() for row in rows)


def test_a_concept_without_a_name_or_not_in_the_store_has_no_rows(mesh_facts: ConceptFacts) -> None:
    facts = mesh_facts
    assert facts.concepts(["D999999999", "C0"]) == {"D999999999": [], "C0": []}
    assert facts.parents(["D999999999"]) == {"D999999999": []}


@pytest.mark.parametrize("nct", ["NCT00042536", "NCT06889259"])
def test_the_explorer_draws_the_same_page_from_the_indexes_as_from_the_queries(
    real_mesh_store: Store, nct: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def page() -> dict[str, Any]:
        return json.loads(json.dumps(explorer_data(real_mesh_store, nct, depth=2)))

    from_index = page()
    monkeypatch.setattr(explorer_data_module, "concept_facts", lambda store: None)
    monkeypatch.setattr(explorer_data_module, "trial_facts", lambda store: None)  # the trials' own terms too
    assert page() == from_index
    concepts = [node for node in from_index["catalogue"].values() if node["kind"] == "concept"]
    assert sum(bool(node["facts"]["tree_numbers"]) for node in concepts) > 20  # facts a page shows, read from it


@pytest.mark.parametrize("value", [None, 0, 1, 1.0, True, False, "", "Lutetium", ("a", 1), ("é", None)], ids=repr)
def test_packed_values_come_back_equal_and_of_the_same_type(value: Any) -> None:
    packed = Packed.pack(["B", "A", "C"], lambda key: (key, value))
    assert [key.decode() for key in packed.keys] == ["A", "B", "C"]
    for key in "ABC":
        found = packed.get(key)
        assert found == (key, value) and type(found[1]) is type(value)
    assert packed.get("D") is None and packed.get("é") is None and len(packed) == 3
