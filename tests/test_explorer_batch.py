"""Batched reads: many trials (or concepts) per query give exactly what one trial per query gives, and the explorer
reads a page in a bounded number of queries however many nodes it embeds."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from pyoxigraph import Literal

from kg.analysis.health import health_score, health_scores
from kg.analysis.timeline import timeline, timelines
from kg.analysis.trial_facts import OWN_TERMS_QUERY
from kg.queries import QueryError, load_query, run, select_many, trial_terms
from kg.store import Store
from kg.views.explorer_data import expand, explorer_data, node_kind
from tests.conftest import SEED_NCT, needs_real_data
from tests.trial_page_support import AS_OF, demo_build, demo_store

__all__ = ["demo_build", "demo_store"]  # fixtures used here


def all_ncts(store: Store) -> list[str]:
    rows = store.select(
        "SELECT ?nct WHERE { ?t a <https://schema.org/MedicalTrial> ; <http://purl.org/dc/terms/identifier> ?nct }"
    )
    return sorted(str(row["nct"]) for row in rows.rows)


def health_json(health: Any) -> dict[str, Any]:
    return {"health": health.to_json(), "timeline": health.timeline.to_json()}


def assert_batch_equals_single(store: Store, ncts: list[str], as_of: date) -> None:
    """One call for all the trials, against one call per trial and against the per-trial named queries."""
    batch = health_scores(store, ncts, as_of=as_of)
    assert list(batch) == ncts
    for nct in ncts:
        single = health_score(store, nct, as_of=as_of)
        assert health_json(batch[nct]) == health_json(single), nct
        summary = run(store, "trial_summary", {"nct": nct}).rows[0]
        sites = run(store, "trial_sites", {"nct": nct}).rows
        assert batch[nct].components["reach"].value == {
            "countries": summary["countries"],
            "sites": len(sites),
            "active_sites": sum(1 for site in sites if site["status"] == "RECRUITING"),
        }, nct
        assert batch[nct].components["status"].value["status"] == summary["status"], nct
        assert batch[nct].components["enrollment"].value["target"] == summary["enrollment"], nct


@pytest.mark.slow
def test_batch_health_equals_single_for_every_demo_trial(demo_store: Store) -> None:
    ncts = all_ncts(demo_store)
    assert SEED_NCT in ncts and len(ncts) > 100
    assert_batch_equals_single(demo_store, ncts, AS_OF)


@needs_real_data
@pytest.mark.slow
def test_batch_health_equals_single_for_real_trials(real_store: Store) -> None:
    ncts = random.Random(11).sample(all_ncts(real_store), 80)
    assert_batch_equals_single(real_store, ncts, date(2025, 6, 1))


def test_batch_timelines_match_trial_dates(demo_store: Store) -> None:
    ncts = random.Random(2).sample(all_ncts(demo_store), 60)
    found = timelines(demo_store, ncts, as_of=AS_OF)
    for nct in ncts:
        assert found[nct].to_json() == timeline(demo_store, nct, as_of=AS_OF).to_json()
        rows = run(demo_store, "trial_dates", {"nct": nct}).rows
        assert {item.info.key: item.recorded for item in found[nct].milestones} == {
            str(row["milestone"]): str(row["date"]) for row in rows
        }, nct


def test_select_many_splits_rows_by_subject(demo_store: Store) -> None:
    """Each subject's rows equal the named query run for it alone, in its order; a subject without rows is kept."""
    ncts = [*random.Random(4).sample(all_ncts(demo_store), 25), "NCT00000001"]
    terms = list(trial_terms("trial_mesh", ncts).values())
    found = select_many(demo_store, load_query("trial_mesh").text, "nct", terms)
    assert list(found) == ncts
    assert found["NCT00000001"] == []
    for nct in ncts:
        alone = run(demo_store, "trial_mesh", {"nct": nct}).rows
        assert [{key: value for key, value in row.items() if key != "nct"} for row in found[nct]] == alone, nct


def test_select_many_groups_an_aggregate_query_by_subject(demo_store: Store) -> None:
    """A query grouping on one line with its closing brace (``} GROUP BY``) gets the subject in its grouping too."""
    sparql = (
        "PREFIX kg: <https://w3id.org/trialkg/vocab/> PREFIX dcterms: <http://purl.org/dc/terms/>\n"
        "SELECT (COUNT(DISTINCT ?location) AS ?sites)\n"
        "WHERE { ?trial dcterms:identifier ?nct ; kg:location ?location } GROUP BY ?trial"
    )
    ncts = random.Random(9).sample(all_ncts(demo_store), 10)
    found = select_many(demo_store, sparql, "nct", list(trial_terms("trial_sites", ncts).values()))
    for nct in ncts:
        expected = run(demo_store, "trial_summary", {"nct": nct}).rows[0]["sites"]
        assert [row["sites"] for row in found[nct]] == ([expected] if expected else []), nct


def test_select_many_keeps_hostile_values_as_values(demo_store: Store) -> None:
    hostile = Literal('NCT" } } SELECT * WHERE { ?s ?p ?o } #')
    found = select_many(demo_store, load_query("trial_summary").text, "nct", [hostile, Literal(SEED_NCT)])
    assert found[hostile.value] == []
    assert [row["nct"] for row in found[SEED_NCT]] == [SEED_NCT]


def test_trial_site_statuses(demo_store: Store) -> None:
    """The lean site list the health score counts is trial_sites' list, location for location."""
    for nct in random.Random(6).sample(all_ncts(demo_store), 40):
        lean = run(demo_store, "trial_site_statuses", {"nct": nct}).rows
        full = run(demo_store, "trial_sites", {"nct": nct}).rows
        assert sorted((row["location"], row["status"]) for row in lean) == sorted(
            (row["location"], row["status"]) for row in full
        ), nct


@needs_real_data
def test_trial_site_statuses_against_raw_records(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    for nct in random.Random(8).sample(sorted(real_studies), 100):
        locations = real_studies[nct]["protocolSection"].get("contactsLocationsModule", {}).get("locations", [])
        rows = run(real_store, "trial_site_statuses", {"nct": nct}).rows
        assert sorted(str(row["status"]) for row in rows) == sorted(str(item.get("status")) for item in locations)


def test_health_scores_refuses_unknown_and_malformed_ids(demo_store: Store) -> None:
    with pytest.raises(QueryError, match="no trial NCT00000001"):
        health_scores(demo_store, [SEED_NCT, "NCT00000001"], as_of=AS_OF)
    with pytest.raises(QueryError, match="must be an NCT id"):
        health_scores(demo_store, ["not-a-trial"], as_of=AS_OF)


@pytest.fixture
def counted(demo_store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SELECT queries the store answers while the test runs."""
    queries: list[str] = []
    select = demo_store.select

    def counting(sparql: str, bindings: Any = None) -> Any:
        queries.append(sparql)
        return select(sparql, bindings)

    monkeypatch.setattr(demo_store, "select", counting)
    yield queries


def test_explorer_reads_a_page_in_a_bounded_number_of_queries(demo_store: Store, counted: list[str]) -> None:
    data = explorer_data(demo_store, SEED_NCT, depth=2)
    nodes = len(data["nodes"]) + len(data["catalogue"])
    trials = sum(1 for node_id in [*data["catalogue"], *(n["id"] for n in data["nodes"])] if node_id.startswith("NCT"))
    assert trials > 50 and nodes > 100
    # A handful per hop and kind of fact (summary, terms, dates, sites, concepts, parents, trials under, written
    # terms), not several per node as when each node read its own facts.
    assert len(counted) < 60, len(counted)


@pytest.mark.slow
def test_expand_agrees_with_the_embedded_expansions(demo_store: Store) -> None:
    """A node's expansion read alone (``kg serve``) equals the one read in a batch for the page."""
    data = explorer_data(demo_store, SEED_NCT, depth=1)
    for node_id, embedded in data["expansions"].items():
        alone = expand(demo_store, node_id)
        assert [node["id"] for node in alone["nodes"]] == embedded["nodes"], node_id
        assert alone["edges"] == embedded["edges"], node_id


def test_an_engine_without_the_search_index_draws_the_same_page(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an embedded store the trials under a concept and those naming a condition or intervention as written come
    from the search index (their count and first few); elsewhere (a remote engine) from the queries' rows: the
    same page either way."""
    indexed = explorer_data(demo_store, SEED_NCT, depth=2)
    written = [node_id for node_id in indexed["expansions"] if node_id.startswith(("condition/", "intervention/"))]
    under = [node_id for node_id in indexed["expansions"] if node_kind(node_id) == "concept"]
    assert written and len(under) > 5, indexed["expansions"].keys()
    assert all(indexed["expansions"][node_id]["nodes"][1:] for node_id in written + under)
    monkeypatch.setattr(demo_store, "scans_fast", False)
    assert explorer_data(demo_store, SEED_NCT, depth=2) == indexed


def test_a_trials_own_terms_are_trial_mesh_without_the_ancestors(real_store: Store) -> None:
    """A page drawn with the MeSH vocabulary reads only the trial's own terms: every real trial's rows are
    ``trial_mesh``'s condition and intervention rows, in its order."""
    ncts = all_ncts(real_store)
    terms = list(trial_terms("trial_mesh", ncts).values())
    every = select_many(real_store, load_query("trial_mesh").text, "nct", terms)
    own = select_many(real_store, OWN_TERMS_QUERY, "nct", terms)
    assert sum(map(len, own.values())) > 1000
    for nct in ncts:
        assert own[nct] == [row for row in every[nct] if row["role"] in ("condition", "intervention")], nct
