"""The change feed (issue 19): ``kg.analysis.changes``, its named queries, ``kg changes``, and history where people
look (``kg trial``, the trial page, the health score, a landscape).

The events here are SYNTHETIC: written by hand as issue 19's event model spells them (one ``kg:ChangeEvent`` per
field-level change in the changes graph) over the demo graph, so the reading side is tested on known events
whatever writes them. The seed trial (under Neoplasms) slips twice and starts recruiting; a synthetic trial outside
Neoplasms changes enrollment and closes a site; a trial removed from the store keeps its Neoplasms link on its
``removed`` event.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pyoxigraph import Literal, NamedNode, Quad

from kg.analysis.changes import FIELDS, Change, changes, histories, newest, summary, trial_history
from kg.analysis.health import health_score
from kg.queries import QueryError, run
from kg.store import Store, open_store
from kg.vocab import CTGOV_STUDY, DATA, KG, MESH, PROV, RDF, XSD
from tests.conftest import NEOPLASMS, SEED_NCT
from tests.trial_page_support import AS_OF, demo_build  # noqa: F401

#: The graph H19A writes events into (``kg.graphs.CHANGES_GRAPH``).
CHANGES = DATA["graph/changes"]
REMOVED = "NCT09999999"
EARLY = "2026-11-02T08:00:00Z"
LATE = "2026-12-05T08:30:00Z"


def event(
    nct: str,
    field: str,
    old: str | None,
    new: str | None,
    detected: str,
    *,
    before: str = "2026-10-30",
    after: str = "2026-11-01",
    extra: tuple[tuple[NamedNode, NamedNode | Literal], ...] = (),
) -> list[Quad]:
    """The quads of one SYNTHETIC change event, as issue 19's model spells them."""
    key = "|".join([nct, field, old or "", new or "", after, after])
    node = DATA[f"change/{nct}/{hashlib.sha256(key.encode()).hexdigest()[:16]}"]
    activity = DATA[f"update/{detected.replace('-', '').replace(':', '')}"]
    facts: list[tuple[NamedNode, NamedNode | Literal]] = [
        (RDF.type, KG.ChangeEvent),
        (KG.changedTrial, CTGOV_STUDY[nct]),
        (KG.changedField, Literal(field)),
        (KG.detected, Literal(detected, datatype=XSD.dateTime)),
        (KG.dataVersionBefore, Literal(before, datatype=XSD.date)),
        (KG.dataVersionAfter, Literal(after, datatype=XSD.date)),
        (PROV.wasGeneratedBy, activity),
        *((KG.oldValue, Literal(old)) for _ in [old] if old is not None),
        *((KG.newValue, Literal(new)) for _ in [new] if new is not None),
        *extra,
    ]
    return [Quad(node, predicate, value, CHANGES) for predicate, value in facts]


def outside_neoplasms(store: Store) -> str:
    """A synthetic trial with no condition under Neoplasms."""
    rows = store.select(
        """PREFIX kg: <https://w3id.org/trialkg/vocab/>
        PREFIX dcterms: <http://purl.org/dc/terms/>
        SELECT ?nct WHERE {
          ?trial dcterms:identifier ?nct ; kg:conditionMesh ?term .
          FILTER NOT EXISTS { ?trial kg:conditionMesh/kg:ancestor? <http://id.nlm.nih.gov/mesh/D009369> }
        } ORDER BY ?nct LIMIT 1"""
    ).rows
    return str(rows[0]["nct"])


@pytest.fixture(scope="module")
def other_nct(demo_build: tuple[str, list[Path]]) -> str:  # noqa: F811
    with open_store(demo_build[0], read_only=True) as store:
        return outside_neoplasms(store)


@pytest.fixture(scope="module")
def store(demo_build: tuple[str, list[Path]], other_nct: str) -> Iterator[Store]:  # noqa: F811
    """The demo graph with the SYNTHETIC events added."""
    france = ((KG.siteCountry, Literal("France")),)
    quads = [
        *event(SEED_NCT, "primary_completion", "2027-12", "2028-06", EARLY),
        *event(SEED_NCT, "primary_completion", "2028-06", "2029-06", LATE, before="2026-11-01", after="2026-12-04"),
        *event(SEED_NCT, "overall_status", "NOT_YET_RECRUITING", "RECRUITING", LATE),
        *event(SEED_NCT, "sites", None, "Hôpital X, Paris, France", LATE, extra=france),
        *event(other_nct, "enrollment", "100", "120", LATE),
        *event(other_nct, "sites", "Clinique Y, Lyon, France", None, LATE, extra=france),
        *event(REMOVED, "removed", "RECRUITING", None, LATE, extra=((KG.removedConditionMesh, MESH[NEOPLASMS]),)),
    ]
    with open_store(demo_build[0]) as writable:
        writable.add(quads)
    with open_store(demo_build[0], read_only=True) as opened:
        yield opened


def fields_of(found: list[Change]) -> list[tuple[str, str]]:
    return [(change.nct_id, change.field) for change in found]


# --- the API and the named queries --------------------------------------------------------------------------------


def test_changes_lists_every_event_in_order(store: Store, other_nct: str) -> None:
    found = changes(store)
    assert len(found) == 7
    assert fields_of(found)[0] == (SEED_NCT, "primary_completion")  # the early one first
    assert [change.detected for change in found] == sorted(change.detected for change in found)
    assert found[0].to_json() == {
        "nct_id": SEED_NCT,
        "field": "primary_completion",
        "old": "2027-12",
        "new": "2028-06",
        "detected": EARLY,
        "data_version_before": "2026-10-30",
        "data_version_after": "2026-11-01",
    }


def test_changes_since_a_day_leaves_earlier_events_out(store: Store) -> None:
    assert len(changes(store, since=date(2026, 12, 1))) == 6
    assert changes(store, since=date(2026, 12, 6)) == []


def test_changes_of_fields(store: Store, other_nct: str) -> None:
    assert fields_of(changes(store, fields=["sites", "enrollment"])) == [
        (SEED_NCT, "sites"),
        (other_nct, "enrollment"),
        (other_nct, "sites"),
    ]
    with pytest.raises(QueryError, match="no change field 'status'"):
        changes(store, fields=["status"])


def test_changes_in_a_condition_scope_keep_removed_trials(store: Store, other_nct: str) -> None:
    found = changes(store, condition=NEOPLASMS)
    assert {change.nct_id for change in found} == {SEED_NCT, REMOVED}
    assert len(found) == 5
    assert other_nct in {change.nct_id for change in changes(store)}


def test_trial_history_and_histories(store: Store, other_nct: str) -> None:
    history = trial_history(store, SEED_NCT.lower())
    assert [change.field for change in history] == [
        "primary_completion",
        "overall_status",
        "primary_completion",
        "sites",
    ]
    assert trial_history(store, REMOVED)[0].old == "RECRUITING"  # its graph is gone, its history is not
    many = histories(store, [SEED_NCT, other_nct, "NCT00000001"])
    assert [len(many[nct]) for nct in (SEED_NCT, other_nct, "NCT00000001")] == [4, 2, 0]


def test_trial_changes_named_query(store: Store) -> None:
    rows = run(store, "trial_changes", {"nct": SEED_NCT}).rows
    assert [(row["field"], row["old"], row["new"]) for row in rows][:2] == [
        ("primary_completion", "2027-12", "2028-06"),
        ("overall_status", "NOT_YET_RECRUITING", "RECRUITING"),
    ]
    assert rows[-1]["country"] == "France"
    assert run(store, "trial_changes", {"nct": "NCT00000001"}).rows == []


def test_changes_since_named_query(store: Store) -> None:
    rows = run(store, "changes_since", {"since": "2026-12-05"}).rows
    assert len(rows) == 6
    assert {row["nct"] for row in rows} >= {SEED_NCT, REMOVED}
    assert run(store, "changes_since", {"since": "2026-12-06"}).rows == []


def test_summary_of_hand_made_events(store: Store) -> None:
    figures = summary(changes(store))
    assert figures["primary_completion_slips"] == {"trials": 1, "total_months": 18, "median_months": 18}
    assert figures["status_transitions"] == [{"old": "NOT_YET_RECRUITING", "new": "RECRUITING", "changes": 1}]
    assert figures["newly_recruiting"] == [SEED_NCT]
    assert figures["sites_by_country"] == [{"country": "France", "opened": 1, "closed": 1}]
    assert figures["removed"] == [REMOVED]
    assert (figures["changes"], figures["trials"]) == (7, 3)


def test_summary_counts_only_later_dates_as_slips() -> None:
    moved = [
        Change("NCT00000001", "primary_completion", "2026-06", "2026-01", "2026-12-05T00:00:00Z", None, None),
        Change("NCT00000002", "primary_completion", "2026-06", "2026-09-15", "2026-12-05T00:00:00Z", None, None),
        Change("NCT00000003", "primary_completion", "2026-06", "2027-06", "2026-12-05T00:00:00Z", None, None),
        Change("NCT00000004", "completion", "2026-06", "2030-06", "2026-12-05T00:00:00Z", None, None),
    ]
    assert summary(moved)["primary_completion_slips"] == {"trials": 2, "total_months": 15, "median_months": 7.5}


def test_field_vocabulary_has_what_the_issue_asks() -> None:
    asked = {"overall_status", "enrollment", "start", "primary_completion", "completion", "phases", "sites"}
    assert asked | {"results_posted", "removed"} <= set(FIELDS)


# --- history where people look ------------------------------------------------------------------------------------


def test_health_explanation_counts_slips(store: Store, other_nct: str) -> None:
    timing = health_score(store, SEED_NCT, as_of=AS_OF).components["timeline"]
    assert timing.value["primary_completion_slips"] == 2
    assert timing.value["primary_completion_slip_months"] == 18
    assert "primary completion slipped 2 times, 18 months in all" in timing.explanation
    other = health_score(store, other_nct, as_of=AS_OF).components["timeline"]
    assert "no slip of primary completion" in other.explanation
    assert other.value["primary_completion_slips"] == 0


def test_trial_json_has_history(store: Store) -> None:
    from kg.analysis.trial import trial_json

    data = trial_json(store, SEED_NCT, as_of=AS_OF)
    assert [row["field"] for row in data["history"]][:2] == ["primary_completion", "overall_status"]
    assert set(data["history"][0]) == set(Change("", "", None, None, "", None, None).to_json())


def test_trial_page_shows_history(store: Store, other_nct: str) -> None:
    from kg.views.trial_page import render_trial_page

    page = render_trial_page(store, SEED_NCT, as_of=AS_OF, explorer="")
    section = page.split('<section id="history">', 1)[1].split("</section>", 1)[0]
    assert "<h2>History (4)</h2>" in section
    assert section.count('<tr data-field="primary_completion">') == 2
    assert "Hôpital X, Paris, France" in section
    assert page.index('<section id="history">') > page.index('<section id="record-dates">')


def test_trial_page_without_history_has_no_section(store: Store) -> None:
    from kg.views.trial_page import render_trial_page

    quiet = next(nct for nct in run(store, "trials_under", {"concept": NEOPLASMS}).column("nct") if nct != SEED_NCT)
    assert '<section id="history">' not in render_trial_page(store, str(quiet), as_of=AS_OF, explorer="")


def test_front_door_changes(store: Store) -> None:
    from kg.front_door import Graph

    found = Graph(store).changes(since="2026-12-01", condition=NEOPLASMS, fields=["removed", "sites"])
    assert [(row["nct_id"], row["field"]) for row in found] == [(SEED_NCT, "sites"), (REMOVED, "removed")]
    assert found.to_pandas().shape == (2, 7)


# --- the command line ---------------------------------------------------------------------------------------------


def kg_main(args: list[str], spec: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``kg ARGS --store SPEC`` in this process: (exit code, stdout, stderr)."""
    from kg.cli.main import main

    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(sys, "argv", ["kg", *args, "--store", spec])
    code = 0
    try:
        main()
    except SystemExit as exited:
        code = int(exited.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def spec(store: Store, demo_build: tuple[str, list[Path]]) -> str:  # noqa: F811
    return demo_build[0]


def test_cli_changes_json_rows(spec: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = kg_main(["changes", "--since", "2026-12-01", "--format", "json"], spec, monkeypatch, capsys)
    rows = json.loads(out)
    assert code == 0 and len(rows) == 6
    assert all(
        list(row) == ["nct_id", "field", "old", "new", "detected", "data_version_before", "data_version_after"]
        for row in rows
    )


def test_cli_changes_fields_and_scope(
    spec: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["changes", "-c", NEOPLASMS, "--field", "primary_completion", "--field", "removed", "--format", "csv"]
    code, out, _ = kg_main(args, spec, monkeypatch, capsys)
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "nct_id,field,old,new,detected,data_version_before,data_version_after"
    assert [line.split(",")[1] for line in lines[1:]] == ["primary_completion", "primary_completion", "removed"]


def test_cli_changes_table_ends_with_the_summary(
    spec: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = kg_main(["changes"], spec, monkeypatch, capsys)
    tail = out.strip().splitlines()[-6:]
    assert code == 0
    assert tail[0] == "7 changes in 3 trials."
    assert tail[1] == "Primary completion slipped: 1 trials, 18 months in all (median 18 per trial)."
    assert tail[2] == "Status transitions: NOT_YET_RECRUITING → RECRUITING (1)."
    assert tail[3] == f"Newly recruiting: {SEED_NCT}."
    assert tail[4] == "Sites opened/closed by country: France +1/-1."
    assert tail[5] == f"Removed: {REMOVED}."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["changes", "--field", "status"], "no change field 'status'"),
        (["changes", "--condition", "bogus"], "bogus"),
        (["changes", "--condition", "D999999"], "D999999"),
    ],
    ids=["unknown field", "malformed condition", "unknown condition"],
)
def test_cli_changes_mistakes_get_one_line(
    args: list[str], message: str, spec: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = kg_main(args, spec, monkeypatch, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and out == ""
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err


def test_cli_changes_bad_since_is_refused(
    spec: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = kg_main(["changes", "--since", "2026-13-01"], spec, monkeypatch, capsys)
    assert code == 2 and "--since" in err and "Traceback" not in err


def test_cli_trial_prints_history(
    spec: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = kg_main(["trial", SEED_NCT, "--as-of", AS_OF.isoformat()], spec, monkeypatch, capsys)
    assert code == 0
    history = out.split("History (4)", 1)[1]
    assert "2026-11-02  primary_completion: 2027-12 → 2028-06" in history
    assert "2026-12-05  removed" not in history
    code, out, _ = kg_main(["trial", SEED_NCT, "--format", "json"], spec, monkeypatch, capsys)
    assert len(json.loads(out)["history"]) == 4


def test_landscape_has_recent_changes_in_its_scope(store: Store, tmp_path: Path) -> None:
    from kg.analysis.landscape import landscape
    from kg.views.landscape_report import write_report

    assert newest(store) == date(2026, 12, 5)  # the window runs back RECENT_DAYS from here: every event is in it
    for fast in (False, True):
        result = landscape(store, NEOPLASMS, fast=fast)
        assert [(row["nct_id"], row["field"]) for row in result.recent_changes] == fields_of(
            changes(store, condition=NEOPLASMS)
        )
        assert result.recent_summary["removed"] == [REMOVED]
    page = write_report(result, tmp_path / "report").read_text(encoding="utf-8")
    section = page.split('<section id="recent-changes">', 1)[1].split("</section>", 1)[0]
    assert "5 field-level changes in 2 trials" in section
    assert "18 months in all" in section
    csv_lines = (tmp_path / "report" / "recent_changes.csv").read_text(encoding="utf-8").splitlines()
    assert csv_lines[0] == "nct_id,field,old,new,detected,data_version_before,data_version_after"
    assert len(csv_lines) == 6
