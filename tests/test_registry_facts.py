"""Whole-registry aggregates from the landscape fact table: the rows of their named queries, exactly (variables,
order, value types), on the real records and on a few awkward trials; the SPARQL where the table cannot say."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kg.analysis.answers import answer
from kg.analysis.landscape_index import LANDSCAPE_INDEX
from kg.analysis.registry_facts import FROM_FACTS
from kg.errors import KgError
from kg.pipeline.build import build_into
from kg.queries import run
from kg.store import Store, open_store
from tests.conftest import NEOPLASMS

QUERIES = sorted(FROM_FACTS)
#: The whole-registry aggregates (no parameter); the others are landscapes of a condition subtree (``concept``).
AGGREGATES = [name for name in QUERIES if not name.startswith("landscape_")]
LANDSCAPES = [name for name in QUERIES if name.startswith("landscape_")]
ERECTILE_DYSFUNCTION = "D007172"
Study = dict[str, Any]


def _study(number: int, sponsor: str = "Sponsor A", sponsor_class: str | None = "INDUSTRY") -> Study:
    """A small record: a phase, a status, an enrollment count, start and primary completion dates, one site."""
    lead: dict[str, str] = {"name": sponsor} | ({"class": sponsor_class} if sponsor_class else {})
    return {
        "protocolSection": {
            "identificationModule": {"nctId": f"NCT0990{number:04d}", "briefTitle": f"Awkward trial {number}"},
            "statusModule": {
                "overallStatus": "RECRUITING",
                "startDateStruct": {"date": "2021-03-04", "type": "ACTUAL"},
                "primaryCompletionDateStruct": {"date": "2023-05", "type": "ESTIMATED"},
            },
            "sponsorCollaboratorsModule": {"leadSponsor": lead},
            "designModule": {"studyType": "INTERVENTIONAL", "phases": ["PHASE2"], "enrollmentInfo": {"count": 10}},
            "contactsLocationsModule": {
                "locations": [{"facility": f"Site {number}", "city": "Lyon", "country": "France"}]
            },
        },
        "derivedSection": {"conditionBrowseModule": {"meshes": [{"id": NEOPLASMS, "term": "Neoplasms"}]}},
    }


def _awkward() -> list[Study]:
    """Trials the aggregates must not trip on, each differing from the plain one in one way."""
    studies = [_study(number) for number in range(9)]
    studies += [_study(9, "Sponsor B", None), _study(10, "Sponsor C", "NIH")]  # no class; B and C tie on one trial
    studies += [_study(number) for number in range(11, 14)]
    status = [study["protocolSection"]["statusModule"] for study in studies]
    design = [study["protocolSection"]["designModule"] for study in studies]
    del design[1]["phases"]  # no phase
    design[2]["phases"] = ["PHASE2", "PHASE1"]  # two phases: PHASE1/PHASE2
    del status[3]["overallStatus"]  # no status
    del design[4]["enrollmentInfo"]  # no enrollment count
    del status[5]["startDateStruct"]  # no start date
    status[6]["startDateStruct"] = {"date": "2027-01", "type": "ESTIMATED"}  # an estimated start, month only
    status[7]["startDateStruct"] = {"date": "2019"}  # a start date with no type, year only
    del status[8]["primaryCompletionDateStruct"]
    design[10]["phases"] = ["PHASE3"]
    design[11]["enrollmentInfo"] = {"count": 0}
    design[12]["enrollmentInfo"] = {"count": 7}  # with the tens: a mean with a recurring decimal
    design[13]["phases"] = ["EARLY_PHASE1"]
    studies[13]["protocolSection"]["contactsLocationsModule"]["locations"] += [
        {"facility": "Site X", "city": "Bonn", "country": "Germany"},
        {"facility": "Site Y", "city": "Paris", "country": "France"},
    ]  # two sites in one country, and a country with one trial
    return studies


def _unknown_codes() -> list[Study]:
    """Codes the vocabulary lacks (kept as is, without a notation): the queries count them as NONE."""
    studies = _awkward()
    studies[0]["protocolSection"]["designModule"]["phases"] = ["PHASE2", "PHASE9"]
    studies[1]["protocolSection"]["statusModule"]["overallStatus"] = "PAUSED"
    studies[2]["protocolSection"]["sponsorCollaboratorsModule"]["leadSponsor"]["class"] = "CHARITY"
    return studies


def _store(folder: Path, studies: list[Study]) -> Store:
    folder.mkdir()
    (folder / "studies.json").write_text(json.dumps(studies), encoding="utf-8")
    store = open_store("oxigraph:")
    build_into(store, [folder / "studies.json"], workers=1)
    return store


@pytest.fixture(scope="module")
def awkward_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with _store(tmp_path_factory.mktemp("awkward") / "records", _awkward()) as store:
        yield store


def _landscape_values(name: str, concept: str, sponsor: str) -> dict[str, str]:
    """A landscape query's parameters: the condition, and the lead sponsor where it takes one (the portfolio)."""
    return {"concept": concept} | ({"sponsor": sponsor} if name == "landscape_portfolio" else {})


def _same(
    store: Store,
    name: str,
    caplog: pytest.LogCaptureFixture,
    values: dict[str, str] | None = None,
    *,
    from_table: bool = True,
) -> None:
    """Equal rows, and (``from_table``) answered from the table, not left to the SPARQL."""
    values = values or {}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kg.analysis.registry_facts"):
        fast = FROM_FACTS[name](store, values)
    assert ("running the query" in caplog.text) is not from_table, caplog.text
    slow = run(store, name, values)
    assert fast.variables == slow.variables
    assert fast.rows == slow.rows
    assert [[type(value) for value in row.values()] for row in fast.rows] == [
        [type(value) for value in row.values()] for row in slow.rows
    ]


def test_real_records_give_the_rows_of_every_query(
    real_mesh_store: Store, real_studies: dict[str, Study], caplog: pytest.LogCaptureFixture
) -> None:
    for name in AGGREGATES:
        _same(real_mesh_store, name, caplog)
    for concept in (NEOPLASMS, ERECTILE_DYSFUNCTION):
        top = FROM_FACTS["landscape_top_sponsors"](real_mesh_store, {"concept": concept}).rows[0]["sponsor"]
        for name in LANDSCAPES:
            _same(real_mesh_store, name, caplog, _landscape_values(name, concept, str(top)))
    portfolio = FROM_FACTS["landscape_portfolio"](
        real_mesh_store, _landscape_values("landscape_portfolio", NEOPLASMS, "x")
    )
    assert portfolio.rows == [], "a sponsor with no trial has an empty portfolio"
    summary = FROM_FACTS["landscape_summary"](real_mesh_store, {"concept": NEOPLASMS}).rows
    assert 0 < summary[0]["trials"] < len(real_studies)
    # And the table counts what the records say: one peer per record, start years as written.
    peers = FROM_FACTS["phase_peers"](real_mesh_store, {}).rows
    assert [row["nct"] for row in peers] == sorted(real_studies)
    starts = Counter(
        int(date[:4])
        for study in real_studies.values()
        if (date := study["protocolSection"]["statusModule"].get("startDateStruct", {}).get("date"))
    )
    years = FROM_FACTS["trials_by_start_year"](real_mesh_store, {}).rows
    assert {row["year"]: row["trials"] for row in years} == starts


@pytest.mark.parametrize("name", QUERIES)
def test_awkward_trials_give_the_rows_of_the_query(
    awkward_store: Store, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    _same(awkward_store, name, caplog, _landscape_values(name, NEOPLASMS, "Sponsor A") if name in LANDSCAPES else {})


def test_awkward_trials_are_answered_from_the_table(awkward_store: Store) -> None:
    """The awkward cases are in the rows (not left to the SPARQL): the table's own reading of them."""
    index = LANDSCAPE_INDEX.load(awkward_store)
    assert {"NONE", "PHASE1/PHASE2"} <= set(index.phase_labels)
    enrollment = {row["phase"]: row for row in FROM_FACTS["enrollment_by_phase"](awkward_store, {}).rows}
    assert enrollment["PHASE2"]["mean"] == pytest.approx(77 / 9) and enrollment["PHASE2"]["min"] == 0
    classes = {
        row["sponsor_class"]: row["trials"] for row in FROM_FACTS["trials_by_sponsor_class"](awkward_store, {}).rows
    }
    assert classes == {"INDUSTRY": 12, "NIH": 1, "NONE": 1}
    summary = FROM_FACTS["landscape_summary"](awkward_store, {"concept": NEOPLASMS}).rows
    assert summary == [{"trials": 14, "synthetic": 0}]  # every awkward trial names Neoplasms
    peers = FROM_FACTS["phase_peers"](awkward_store, {}).rows
    assert peers[5]["start"] is None and peers[7]["start"] == "2019" and peers[8]["primary_completion"] is None


def test_codes_without_notation_are_answered_by_the_query(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with _store(tmp_path / "records", _unknown_codes()) as store:
        for name in AGGREGATES:
            # Countries and start years read no code: still from the table.
            _same(store, name, caplog, from_table=name in {"trials_by_country", "trials_by_start_year"})
        statuses = {row["status"] for row in FROM_FACTS["phase_status_counts"](store, {}).rows}
        assert "PAUSED" not in statuses and "NONE" in statuses


def test_answer_on_other_stores_and_its_mistakes(tmp_path: Path, awkward_store: Store) -> None:
    """rdflib runs the queries (the same rows either way); a parameter a query lacks is refused as before."""
    records = tmp_path / "records"
    records.mkdir()
    (records / "studies.json").write_text(json.dumps(_awkward()), encoding="utf-8")
    with open_store("memory:") as store:
        build_into(store, [records / "studies.json"], workers=1)
        for name in AGGREGATES:
            assert answer(store, name).rows == run(store, name).rows
        assert LANDSCAPE_INDEX.cached(store) is None
    for name in AGGREGATES:
        assert answer(awkward_store, name) == run(awkward_store, name)
        with pytest.raises(KgError, match="no parameter"):
            answer(awkward_store, name, {"concept": NEOPLASMS})
    for name in LANDSCAPES:
        with pytest.raises(KgError, match="needs --param concept"):
            answer(awkward_store, name)
        with pytest.raises(KgError, match="must be a MeSH id"):
            answer(awkward_store, name, _landscape_values(name, "neoplasms", "Sponsor A"))
