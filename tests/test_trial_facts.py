"""The trial facts index holds what the queries say of each trial: ``trial_summary``'s row (values and types),
``trial_dates``'s rows, the sites and recruiting sites of ``trial_site_statuses`` and the history of
``trial_changes``; and health scores from it equal those from the queries. On every real record and on awkward
synthetic ones (the history side is checked after a real ``kg update`` in ``test_changes_update.py``)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kg.analysis.health import health_scores
from kg.analysis.trial_facts import OWN_TERMS_QUERY, TRIAL_FACTS_INDEX, TrialFacts, build_trial_facts, health_inputs
from kg.demo import seed_study
from kg.pipeline.build import build, build_into
from kg.queries import load_query, select_many, trial_terms
from kg.store import Store, Value, open_store

AS_OF = date(2026, 12, 1)


def _without_nct(rows: list[dict[str, Value]]) -> list[tuple[Any, ...]]:
    """Rows as sorted tuples, without the ``nct`` column ``select_many`` adds (the query leaves the order open)."""
    return sorted((tuple((k, v) for k, v in row.items() if k != "nct") for row in rows), key=repr)


def assert_facts_agree(store: Store, facts: TrialFacts) -> list[str]:
    """Every trial of ``store`` has the queries' facts in ``facts`` (summary row with its value types, dates, sites,
    history) and the same health score from either; the NCT ids checked."""
    ncts = facts.ncts
    summaries = select_many(
        store, load_query("trial_summary").text, "nct", list(trial_terms("trial_summary", ncts).values())
    )
    assert set(summaries) == set(ncts) and all(len(rows) == 1 for rows in summaries.values())
    indexed = facts.summaries(ncts)
    for nct in ncts:
        assert indexed[nct] == summaries[nct], nct
        assert [type(value) for value in indexed[nct][0].values()] == [
            type(value) for value in summaries[nct][0].values()
        ], nct
    queried, held = health_inputs(store, ncts), facts.health_inputs(ncts)
    for nct in ncts:
        assert _without_nct(held[nct].dates) == _without_nct(queried[nct].dates), nct
        assert held[nct][1:] == queried[nct][1:], nct
    queried_terms = select_many(store, OWN_TERMS_QUERY, "nct", list(trial_terms("trial_mesh", ncts).values()))
    held_terms = facts.own_terms(ncts)
    for nct in ncts:
        assert _without_nct(held_terms[nct]) == _without_nct(queried_terms[nct]), nct
        ordered = sorted(held_terms[nct], key=lambda row: (str(row["role"]), str(row["term"]), str(row["mesh_id"])))
        assert held_terms[nct] == ordered, nct  # the query's ORDER BY ?role ?term
    assert sum(map(len, held_terms.values())) >= len(ncts) // 2, "hardly any trial has its own MeSH terms"
    from_queries = health_scores(store, ncts, as_of=AS_OF)
    from_facts = health_scores(store, ncts, as_of=AS_OF, facts=facts)
    assert {nct: h.to_json() for nct, h in from_facts.items()} == {nct: h.to_json() for nct, h in from_queries.items()}
    return ncts


def test_every_real_trial_has_the_queries_facts(real_store: Store, real_studies: dict[str, Any]) -> None:
    facts = build_trial_facts(real_store)
    assert sorted(assert_facts_agree(real_store, facts)) == sorted(real_studies)
    recruiting = [inputs.recruiting_sites for inputs in facts.health_inputs(sorted(real_studies)).values()]
    assert sum(recruiting) > 100  # the real records' recruiting sites are counted, not all zero
    assert len(facts.packed.blob) < 200 * len(real_studies)  # compressed: a few hundred bytes a trial before


def _awkward() -> list[dict[str, Any]]:
    """Synthetic variations of the seed trial, each awkward for one fact."""
    studies = []
    for number in range(10):
        study = copy.deepcopy(seed_study())
        study["synthetic"] = True
        protocol = study["protocolSection"]
        protocol["identificationModule"]["nctId"] = f"NCT0980{number:04d}"
        protocol["identificationModule"]["briefTitle"] = f'[Synthetic] trial {number} <script>alert("x")</script>'
        studies.append(study)
    protocols = [study["protocolSection"] for study in studies]
    design = [protocol["designModule"] for protocol in protocols]
    status = [protocol["statusModule"] for protocol in protocols]
    design[0]["phases"] = ["PHASE3", "PHASE2"]  # two phases
    del design[1]["phases"]  # none
    design[2]["phases"] = ["PHASE9"]  # a code the vocabulary lacks: no notation
    del status[3]["overallStatus"]
    status[4]["overallStatus"] = "PAUSED"
    del design[5]["enrollmentInfo"]
    del status[6]["startDateStruct"]
    status[7]["startDateStruct"] = {"date": "2019"}  # no type: the query's estimated stays unbound
    site = protocols[8]["contactsLocationsModule"]["locations"][0]
    protocols[8]["contactsLocationsModule"]["locations"] = [
        site | {"facility": f"Site {code}", "status": code}
        for code in ("RECRUITING", "NOT_YET_RECRUITING", "WITHDRAWN")
    ]
    protocols[9]["contactsLocationsModule"]["locations"] = []
    protocols[9]["identificationModule"]["acronym"] = "ΑΣ"
    return studies


@pytest.fixture(scope="module")
def awkward_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("awkward-facts")
    (folder / "studies.json").write_text(json.dumps(_awkward()), encoding="utf-8")
    store = open_store("oxigraph:")
    build_into(store, [folder / "studies.json"], workers=1)
    return store


def test_awkward_trials_have_the_queries_facts(awkward_store: Store) -> None:
    facts = build_trial_facts(awkward_store)
    assert len(assert_facts_agree(awkward_store, facts)) == 10
    rows = {nct: found[0] for nct, found in facts.summaries([f"NCT0980{n:04d}" for n in range(10)]).items()}
    assert rows["NCT09800000"]["phases"] == "PHASE2/PHASE3"
    assert rows["NCT09800001"]["phases"] is None and rows["NCT09800003"]["status"] is None
    assert rows["NCT09800005"]["enrollment"] is None and all(row["synthetic"] is True for row in rows.values())
    assert rows["NCT09800009"]["sites"] == 0 and rows["NCT09800009"]["acronym"] == "ΑΣ"
    assert facts.health_inputs(["NCT09800008"])["NCT09800008"][1:3] == (3, 1)


def test_a_trial_not_in_the_store_has_no_facts(awkward_store: Store) -> None:
    facts = TRIAL_FACTS_INDEX.load(awkward_store)
    assert facts.summaries(["NCT00000000", "NCT99999999"]) == {"NCT00000000": [], "NCT99999999": []}
    with pytest.raises(KeyError):
        facts.health_inputs(["NCT00000000"])


def test_the_index_is_saved_beside_an_on_disk_store_and_used_when_current(tmp_path: Path, awkward_store: Store) -> None:
    (tmp_path / "studies.json").write_text(json.dumps(_awkward()[:3]), encoding="utf-8")
    spec = f"oxigraph:{tmp_path / 'store'}"
    build([tmp_path / "studies.json"], spec)
    saved = TRIAL_FACTS_INDEX.path(spec)
    assert saved is not None and saved.is_file()
    with open_store(spec, read_only=True) as store:
        read = TRIAL_FACTS_INDEX.read_saved(saved, TRIAL_FACTS_INDEX.fingerprint(store))
        assert read is not None and read.ncts == ["NCT09800000", "NCT09800001", "NCT09800002"]
        assert read.summaries(["NCT09800000"]) == build_trial_facts(store).summaries(["NCT09800000"])
