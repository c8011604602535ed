"""Results, safety and publications in landscapes: the named queries and the landscape fact table against independent
counts over the raw JSON of the real records (everything, a condition subtree, an intervention), rows identical
both ways; the report's "Results & safety" section renders offline in a browser."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from kg.analysis.landscape import index_rows, landscape, make_scope, query_rows
from kg.analysis.landscape_index import LANDSCAPE_INDEX, table_rows
from kg.identifiers import normalize_mesh_id
from kg.queries import run
from kg.store import Store
from tests.browser_support import needs_chromium, watch
from tests.conftest import NEOPLASMS

Study = dict[str, Any]
Rows = list[dict[str, Any]]
ENZYME_INHIBITORS = "D004791"  # an intervention ancestor of 37 real trials with results
NEW_TABLES = ("results", "serious_events", "publications")
#: Scopes by the registry's own lists (the real store is built without MeSH files): (condition, intervention).
SCOPES = pytest.mark.parametrize(
    ("condition", "intervention"),
    [(NEOPLASMS, None), (None, ENZYME_INHIBITORS), (NEOPLASMS, ENZYME_INHIBITORS)],
    ids=["neoplasms", "enzyme-inhibitors", "both"],
)


# --- independent counts over the raw records ----------------------------------------------------------------------


def _in(study: Study, module: str, ui: str) -> bool:
    browse = study.get("derivedSection", {}).get(module, {})
    return ui in {normalize_mesh_id(item["id"]) for key in ("meshes", "ancestors") for item in browse.get(key, [])}


def _terms(study: Study) -> set[str]:
    """The condition MeSH terms a record names itself (its browse module's ``meshes``)."""
    meshes = study.get("derivedSection", {}).get("conditionBrowseModule", {}).get("meshes", [])
    return {normalize_mesh_id(item["id"]) for item in meshes}


def _scope(studies: dict[str, Study], condition: str | None, intervention: str | None) -> list[Study]:
    return [
        s
        for s in studies.values()
        if (condition is None or _in(s, "conditionBrowseModule", condition))
        and (intervention is None or _in(s, "interventionBrowseModule", intervention))
    ]


def _month(date: str | None) -> int | None:
    return int(date[:4]) * 12 + int(date[5:7]) if date and len(date) >= 7 else None


def _results_counts(studies: list[Study]) -> Counter[tuple[str, bool, int | None]]:
    counts: Counter[tuple[str, bool, int | None]] = Counter()
    for study in studies:
        status = study["protocolSection"]["statusModule"]
        primary = _month(status.get("primaryCompletionDateStruct", {}).get("date"))
        posted = _month(status.get("resultsFirstPostDateStruct", {}).get("date"))
        months = posted - primary if primary is not None and posted is not None else None
        counts[(status.get("overallStatus", "NONE"), bool(study.get("hasResults")), months)] += 1
    return counts


def _serious_counts(studies: list[Study]) -> dict[tuple[str, str | None], tuple[int, int, int]]:
    """``(organ system, term)`` and ``(organ system, None)`` → (trials, affected, at risk)."""
    trials: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    sums: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0])
    for study in studies:
        nct = study["protocolSection"]["identificationModule"]["nctId"]
        events = study.get("resultsSection", {}).get("adverseEventsModule", {}).get("seriousEvents", [])
        for event in events:
            system = event.get("organSystem", "")
            for key in ((system, event.get("term", "")), (system, None)):
                trials[key].add(nct)
                for stat in event.get("stats", []):
                    sums[key][0] += stat.get("numAffected", 0)
                    sums[key][1] += stat.get("numAtRisk", 0)
    return {key: (len(trials[key]), *sums[key]) for key in trials}  # type: ignore[misc]


def _publication_counts(studies: list[Study]) -> dict[str, tuple[int, int, int]]:
    """Reference type (and ``ALL``) → (references, distinct well-formed PMIDs, trials)."""
    references: Counter[str] = Counter()
    pmids: dict[str, set[str]] = defaultdict(set)
    trials: dict[str, set[str]] = defaultdict(set)
    for study in studies:
        nct = study["protocolSection"]["identificationModule"]["nctId"]
        for reference in study["protocolSection"].get("referencesModule", {}).get("references", []):
            pmid = str(reference.get("pmid", "")).strip()
            for kind in (reference.get("type", "NONE"), "ALL"):
                references[kind] += 1
                trials[kind].add(nct)
                if re.fullmatch(r"[0-9]+", pmid):
                    pmids[kind].add(pmid)
    return {kind: (references[kind], len(pmids[kind]), len(trials[kind])) for kind in references}


def _check_against_raw(rows: dict[str, Rows], studies: list[Study]) -> None:
    found = Counter({(r["status"], r["has_results"], r["months"]): r["trials"] for r in rows["results"]})
    assert found == _results_counts(studies)
    serious = {
        (r["organ_system"], r["term"]): (r["trials"], r["affected"], r["at_risk"]) for r in rows["serious_events"]
    }
    assert serious == _serious_counts(studies)
    publications = {r["reference_type"]: (r["references"], r["pubmed_ids"], r["trials"]) for r in rows["publications"]}
    assert publications == _publication_counts(studies)


# --- each table, both ways, against the raw records ---------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_with_results(real_studies: dict[str, Study]) -> dict[str, Study]:
    """The real records, checked to have what these tables count (else every comparison would be of zeros)."""
    assert sum(bool(s.get("hasResults")) for s in real_studies.values()) == 94
    assert _serious_counts(list(real_studies.values())) and _publication_counts(list(real_studies.values()))
    return real_studies


def test_landscape_results_over_every_trial_in_the_fact_table(
    real_store: Store, raw_with_results: dict[str, Study]
) -> None:
    """No scope at all: the fact table over the whole store (``landscape`` always needs a condition or an
    intervention, so this is the fact table's own entry point)."""
    rows = table_rows(real_store, LANDSCAPE_INDEX.load(real_store), None, None, "registry")
    _check_against_raw(rows, list(raw_with_results.values()))
    posted = [r for r in rows["results"] if r["months"] is not None]
    assert sum(r["trials"] for r in posted) == sum(
        "resultsFirstPostDateStruct" in s["protocolSection"]["statusModule"] for s in raw_with_results.values()
    )


@SCOPES
@pytest.mark.parametrize("fast", [False, True], ids=["queries", "fact-table"])
def test_landscape_results_serious_events_and_publications_in_a_scope(
    real_store: Store, raw_with_results: dict[str, Study], condition: str | None, intervention: str | None, fast: bool
) -> None:
    scope = make_scope(real_store, condition, intervention)
    rows = index_rows(real_store, scope) if fast else query_rows(real_store, scope)
    studies = _scope(raw_with_results, condition, intervention)
    assert studies and any(s.get("hasResults") for s in studies)
    _check_against_raw(rows, studies)


def test_landscape_serious_events_named_query_as_kg_query_runs_it(
    real_store: Store, raw_with_results: dict[str, Study]
) -> None:
    """The queries with their own scope block (MeSH loaded or not, bound by the ``concept`` parameter): the
    registry store has no kg:ancestor, so only trials naming Neoplasms itself are in scope."""
    studies = [s for s in raw_with_results.values() if NEOPLASMS in _terms(s)]
    rows = {name: run(real_store, f"landscape_{name}", {"concept": NEOPLASMS}).rows for name in NEW_TABLES}
    _check_against_raw(rows, studies)


@SCOPES
def test_landscape_publications_fact_table_rows_are_the_query_rows(
    real_store: Store, condition: str | None, intervention: str | None
) -> None:
    """Same rows, order and value types, for every new table."""
    scope = make_scope(real_store, condition, intervention)
    table, queries = index_rows(real_store, scope), query_rows(real_store, scope)
    for name in NEW_TABLES:
        assert table[name], name
        assert json.dumps(table[name]) == json.dumps(queries[name]), name


# --- the summaries ------------------------------------------------------------------------------------------------


def test_results_summary_shares_and_delay(real_store: Store, raw_with_results: dict[str, Study]) -> None:
    studies = _scope(raw_with_results, NEOPLASMS, None)
    result = landscape(real_store, NEOPLASMS)
    summary = result.results
    finished = [
        s for s in studies if s["protocolSection"]["statusModule"]["overallStatus"] in ("COMPLETED", "TERMINATED")
    ]
    with_results = sum(bool(s.get("hasResults")) for s in studies)
    assert (summary.trials, summary.with_results) == (len(studies), with_results)
    assert summary.finished == len(finished)
    assert summary.finished_with_results == sum(bool(s.get("hasResults")) for s in finished)
    assert summary.share == pytest.approx(with_results / len(studies), abs=1e-4)
    delays = sorted(
        months for (_, _, months), n in _results_counts(studies).items() if months is not None for _ in range(n)
    )
    assert summary.delay_trials == len(delays) > 3
    quartiles = statistics.quantiles(delays, n=4, method="inclusive")
    assert [summary.delay_months[key] for key in ("P25", "P50", "P75")] == pytest.approx(quartiles, abs=0.01)
    assert (summary.delay_months["min"], summary.delay_months["max"]) == (delays[0], delays[-1])


def test_serious_events_are_ranked_with_rates_and_rolled_up(real_store: Store) -> None:
    result = landscape(real_store, NEOPLASMS)
    events, systems = result.serious_events, result.serious_organ_systems
    assert events and systems and all("term" not in row for row in systems)
    assert [(-r["trials"], -r["affected"]) for r in events] == sorted((-r["trials"], -r["affected"]) for r in events)
    for row in events + systems:
        assert row["rate"] == (round(row["affected"] / row["at_risk"], 4) if row["at_risk"] else None)
    for system in systems:  # a roll-up has at least each of its events' trials and exactly their participants
        members = [r for r in events if r["organ_system"] == system["organ_system"]]
        assert system["trials"] >= max(r["trials"] for r in members)
        assert system["affected"] == sum(r["affected"] for r in members)
    frame = result.to_pandas("serious_events")
    assert frame.columns.tolist() == ["organ_system", "term", "trials", "affected", "at_risk", "rate"]
    assert set(result.tables()) >= {"results_counts", "results_summary", "serious_organ_systems", "publications"}


# --- command line and report --------------------------------------------------------------------------------------


def test_kg_landscape_writes_the_new_csvs(real_store: Store, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kg.cli.main import app

    out = tmp_path / "report"
    answer = CliRunner().invoke(app, ["landscape", "-c", NEOPLASMS, "-o", str(out), "--store", real_store.spec])
    assert answer.exit_code == 0, answer.output
    assert "Results posted:" in answer.stdout
    header = (out / "serious_events.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "organ_system,term,trials,affected,at_risk,rate"
    summary = dict(line.split(",", 1) for line in (out / "results_summary.csv").read_text().splitlines()[1:])
    assert {"share", "finished_share", "delay_months_P50"} <= set(summary) and "delay_months" not in summary


@pytest.mark.slow
@needs_chromium
def test_results_and_safety_section_in_browser(real_store: Store, tmp_path: Path, page: Any) -> None:
    from kg.views.landscape_report import write_report

    result = landscape(real_store, NEOPLASMS)
    index = write_report(result, tmp_path / "neoplasms", store="real records")
    log = watch(page)
    page.goto(index.as_uri())
    section = page.locator("#results-safety")
    page.wait_for_selector("#figure-organ_systems .main-svg")
    assert section.locator(".main-svg").count() >= 2  # the results-by-status and organ-system figures
    text = section.inner_text()
    top = result.serious_events[0]
    assert top["term"] in text and "Results & safety" in text
    assert f"{result.results.share * 100:.1f}%" in text
    assert log.requests == [index.as_uri()] and log.console_errors == [] and log.page_errors == []
