"""Change events: ``kg update`` against a loopback replay of real records, then the same records changed as the
registry changes them (a completion slipped, an enrollment, a status, a site added, a trial removed, one added):
exactly those events are recorded, nothing else, once, and they survive later updates and rebuilds."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import pytest

from kg.analysis.trial_facts import TRIAL_FACTS_INDEX
from kg.change_fields import CHANGE_FIELDS
from kg.ctgov.api import CtgovClient, StudyQuery
from kg.ctgov.mapping import map_study
from kg.ctgov.raw_store import find_harvest, previous_record, run_bulk, start_harvest
from kg.graphs import CHANGES_GRAPH
from kg.pipeline.build import build
from kg.pipeline.changes import FIELDS, UpdateRun, differences, event_quads, facts_from_quads, record_changes
from kg.pipeline.validation import validate
from kg.resources import SHAPE_FILES
from kg.store import Store, open_store
from kg.vocab import SPARQL_PROLOGUE
from tests.conftest import needs_real_data
from tests.replay_server import ReplayData, ReplayServer
from tests.test_harvest import kg
from tests.test_trial_facts import assert_facts_agree

pytestmark = needs_real_data

Study = dict[str, Any]
Event = tuple[str, str, str | None, str | None]
#: Record text that would break a query or a page if it were ever pasted into one.
HOSTILE: Final = "<script>alert(1)</script>\" } ; DROP ALL ; # \\u0000 'x'"
NEW_ID: Final = "NCT99000001"
REPO: Final = Path(__file__).resolve().parents[1]
#: The shapes of this checkout (an editable install may map ``kg.resources`` to another one).
SHAPES: Final = [REPO / "ontologies" / name for name in SHAPE_FILES]
_EVENTS: Final = (
    SPARQL_PROLOGUE
    + f"SELECT ?nct ?field ?old ?new WHERE {{ GRAPH {CHANGES_GRAPH} {{"
    + """
  ?event a kg:ChangeEvent ; kg:changedTrial ?trial ; kg:changedField ?field .
  OPTIONAL { ?event kg:oldValue ?old } OPTIONAL { ?event kg:newValue ?new } }
  BIND(STRAFTER(STR(?trial), "/study/") AS ?nct) }"""
)
_UPDATES: Final = SPARQL_PROLOGUE + "SELECT ?update ?harvest WHERE { ?update a kg:Update ; kg:harvest ?harvest }"


def _nct(study: Study) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])


def _status(study: Study) -> dict[str, Any]:
    return study["protocolSection"]["statusModule"]


def _posted(study: Study, day: str) -> Study:
    """A copy of ``study`` posted on ``day``, as a changed record is."""
    changed = copy.deepcopy(study)
    _status(changed)["lastUpdatePostDateStruct"] = {"date": day, "type": "ACTUAL"}
    return changed


def _slipped(day: str, years: int) -> str:
    return f"{int(day[:4]) + years}{day[4:]}"


@dataclass
class Scenario:
    """Real records, the same records changed, and the events the change must produce."""

    before: list[Study]
    after: list[Study]
    expected: set[Event]
    slipped: str
    original_slipped: Study


def _pick(studies: list[Study], taken: set[str], test: Any) -> Study:
    study = next(study for study in studies if _nct(study) not in taken and test(study))
    taken.add(_nct(study))
    return study


def _scenario(today: str) -> Scenario:
    """Thirty real records plus one per kind of change, chosen by what they hold."""
    studies = ReplayData.real().studies()
    taken: set[str] = set()
    slip = _pick(  # a 29 February would not slip by whole years
        studies,
        taken,
        lambda s: "-02-29" not in _status(s).get("primaryCompletionDateStruct", {}).get("date", "-02-29"),
    )
    enrol = _pick(
        studies, taken, lambda s: "count" in s["protocolSection"].get("designModule", {}).get("enrollmentInfo", {})
    )
    status = _pick(studies, taken, lambda s: _status(s).get("overallStatus") == "RECRUITING")
    site = _pick(
        studies, taken, lambda s: bool(s["protocolSection"].get("contactsLocationsModule", {}).get("locations"))
    )
    gone = _pick(studies, taken, lambda s: "overallStatus" in _status(s))
    others = [study for study in studies if _nct(study) not in taken][:30]
    before = [slip, enrol, status, site, gone, *others]

    changed = {_nct(study): _posted(study, today) for study in (slip, enrol, status, site)}
    old_day = _status(slip)["primaryCompletionDateStruct"]["date"]
    _status(changed[_nct(slip)])["primaryCompletionDateStruct"]["date"] = _slipped(old_day, 1)
    enrollment = changed[_nct(enrol)]["protocolSection"]["designModule"]["enrollmentInfo"]
    old_count = enrollment["count"]
    enrollment["count"] = old_count + 17
    _status(changed[_nct(status)])["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    locations = changed[_nct(site)]["protocolSection"]["contactsLocationsModule"]["locations"]
    locations.append({"facility": HOSTILE, "city": "Boston", "country": "United States", "status": "RECRUITING"})
    added = _posted(others[0], today)
    added["protocolSection"]["identificationModule"]["nctId"] = NEW_ID
    added["synthetic"] = {"generator": "tests/test_changes_update.py", "from": _nct(others[0])}
    after = [changed.get(_nct(study), study) for study in before if study is not gone] + [added]

    expected = {
        (_nct(slip), "primary_completion", old_day, _slipped(old_day, 1)),
        (_nct(enrol), "enrollment", str(old_count), str(old_count + 17)),
        (_nct(status), "overall_status", "RECRUITING", "ACTIVE_NOT_RECRUITING"),
        (_nct(site), "sites", None, f"{HOSTILE}, Boston, United States"),
        (_nct(gone), "removed", _status(gone)["overallStatus"], None),
        (NEW_ID, "added", None, _status(added)["overallStatus"]),
    }
    return Scenario(before, after, expected, _nct(slip), slip)


def events(store: Store) -> list[Event]:
    """Every change event as (trial, field, old, new), a list so that a duplicate would show."""
    return [(str(r["nct"]), str(r["field"]), r["old"], r["new"]) for r in store.select(_EVENTS).rows]  # type: ignore[misc]


@dataclass
class Updated:
    """A store fetched from the first replay, then updated from the second."""

    scenario: Scenario
    spec: str
    raw: Path
    home: Path
    server: ReplayServer
    report: dict[str, Any]
    today: str

    def update(self, server: ReplayServer) -> dict[str, Any]:
        args = ("update", "--store", self.spec, "--raw", str(self.raw), "--base-url", server.url, "--rate", "0")
        result = kg(*args, "--format", "json", home=self.home)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture(scope="module")
def updated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Updated]:
    home = tmp_path_factory.mktemp("changes")
    raw, spec = home / "raw", f"oxigraph:{home / 'store'}"
    today = date.today().isoformat()
    scenario = _scenario(today)
    with ReplayServer(ReplayData(scenario.before)) as first:
        fetched = kg(
            "fetch", "--base-url", first.url, "--rate", "0", "--raw", str(raw), "--build", "--store", spec, home=home
        )
        assert fetched.returncode == 0, fetched.stderr
    with ReplayServer(ReplayData(scenario.after, timestamp="2026-12-05T07:00:00")) as second:
        state = Updated(scenario, spec, raw, home, second, {}, today)
        state.report = state.update(second)
        yield state


def test_an_update_records_exactly_the_changes_made_and_nothing_else(updated: Updated) -> None:
    with open_store(updated.spec, read_only=True) as store:
        found = events(store)
    assert sorted(found, key=str) == sorted(updated.scenario.expected, key=str)
    assert updated.report["change_events"] == len(updated.scenario.expected)


def test_the_feed_and_each_trials_history_list_exactly_those_changes(updated: Updated) -> None:
    """What a user sees: ``kg changes --format json`` rows, and ``history`` in ``kg trial --format json``."""
    printed = kg("changes", "--store", updated.spec, "--format", "json", home=updated.home)
    assert printed.returncode == 0, printed.stderr
    rows = json.loads(printed.stdout)
    assert {tuple(row) for row in rows} == {
        ("nct_id", "field", "old", "new", "detected", "data_version_before", "data_version_after")
    }
    feed = sorted(((row["nct_id"], row["field"], row["old"], row["new"]) for row in rows), key=str)
    assert feed == sorted(updated.scenario.expected, key=str)
    for nct_id in {event[0] for event in updated.scenario.expected if event[1] != "removed"}:
        shown = kg("trial", nct_id, "--store", updated.spec, "--format", "json", home=updated.home)
        assert shown.returncode == 0, shown.stderr
        history = {(row["nct_id"], row["field"], row["old"], row["new"]) for row in json.loads(shown.stdout)["history"]}
        assert history == {event for event in updated.scenario.expected if event[0] == nct_id}


def test_each_event_carries_when_its_update_ran_what_it_read_and_the_versions(updated: Updated) -> None:
    query = (
        SPARQL_PROLOGUE
        + """SELECT ?field ?detected ?started ?harvest ?before ?after ?postedBefore ?postedAfter WHERE {
  ?event kg:changedField ?field ; kg:detected ?detected ; prov:wasGeneratedBy ?update .
  ?update a kg:Update, prov:Activity ; prov:startedAtTime ?started ; kg:harvest ?harvest .
  OPTIONAL { ?event kg:dataVersionBefore ?before } OPTIONAL { ?event kg:dataVersionAfter ?after }
  OPTIONAL { ?event kg:lastUpdatePostedBefore ?postedBefore } OPTIONAL { ?event kg:lastUpdatePostedAfter ?postedAfter }
}"""
    )
    with open_store(updated.spec, read_only=True) as store:
        rows = {str(row["field"]): row for row in store.select(query).rows}
        assert len(store.select(_UPDATES).rows) == 1
    folder = find_harvest(updated.raw, complete=True, kinds=("update",))
    assert folder is not None
    assert {row["harvest"] for row in rows.values()} == {folder.name}
    assert all(row["detected"] == row["started"] for row in rows.values())
    slip = rows["primary_completion"]
    assert slip["postedAfter"] == updated.today and slip["postedBefore"] < updated.today  # type: ignore[operator]
    assert slip["before"] == slip["after"] and slip["before"]
    assert rows["added"]["before"] is None and rows["added"]["postedBefore"] is None
    assert rows["removed"]["after"] == "2026-12-05T07:00:00"  # the registry's version when it was gone
    assert rows["removed"]["postedAfter"] is None


def test_a_removed_trial_keeps_its_mesh_terms_on_its_event(updated: Updated) -> None:
    gone = next(event for event in updated.scenario.expected if event[1] == "removed")[0]
    study = next(study for study in updated.scenario.before if _nct(study) == gone)
    meshes = study.get("derivedSection", {}).get("conditionBrowseModule", {}).get("meshes", [])
    query = SPARQL_PROLOGUE + 'SELECT ?mesh WHERE { ?event kg:changedField "removed" ; kg:removedConditionMesh ?mesh }'
    with open_store(updated.spec, read_only=True) as store:
        linked = {str(row["mesh"]).rpartition("/")[2] for row in store.select(query).rows}
        assert store.select(SPARQL_PROLOGUE + f"ASK {{ ctgov:{gone} a schema:MedicalTrial }}").rows[0]["ask"] is False
        counted = "ASK { ?event a kg:ChangeEvent ; kg:conditionMesh|kg:interventionMesh ?mesh }"
        assert store.select(SPARQL_PROLOGUE + counted).rows[0]["ask"] is False  # not a trial to landscapes or IC
    assert len(linked) == len(meshes) > 0


def test_the_trial_facts_saved_after_the_update_hold_each_trials_history(updated: Updated) -> None:
    """The update refreshed the index beside the store: it is current, agrees with the queries on every trial, and
    holds the slipped trial's one change and its slip of twelve months."""
    path = TRIAL_FACTS_INDEX.path(updated.spec)
    assert path is not None
    with open_store(updated.spec, read_only=True) as store:
        facts = TRIAL_FACTS_INDEX.read_saved(path, TRIAL_FACTS_INDEX.fingerprint(store))
        assert facts is not None
        assert_facts_agree(store, facts)
    slipped = facts.health_inputs([updated.scenario.slipped])[updated.scenario.slipped]
    assert (slipped.changes, slipped.slips) == (1, (12,))


def test_hostile_text_in_a_site_name_stays_data(updated: Updated) -> None:
    query = (
        SPARQL_PROLOGUE
        + 'SELECT ?new ?country WHERE { ?e kg:changedField "sites" ; kg:newValue ?new ; kg:siteCountry ?country }'
    )
    with open_store(updated.spec, read_only=True) as store:
        rows = store.select(query).rows
        trials = store.select(SPARQL_PROLOGUE + "SELECT (COUNT(*) AS ?n) WHERE { ?t a schema:MedicalTrial }").rows
    assert rows == [{"new": f"{HOSTILE}, Boston, United States", "country": "United States"}]
    assert trials[0]["n"] == len(updated.scenario.after)


def test_the_events_conform_to_their_shapes(updated: Updated) -> None:
    with open_store(updated.spec, read_only=True) as store:
        result = validate(store, shapes=SHAPES, limit=1)
    assert result.conforms, result.report_text
    assert result.focus_nodes > len(updated.scenario.expected)


def test_the_version_an_update_replaced_stays_retrievable_from_the_raw_harvests(updated: Updated) -> None:
    original = updated.scenario.original_slipped
    nct = _nct(original)
    posted = _status(original)["lastUpdatePostDateStruct"]["date"]
    assert previous_record(updated.raw, nct, posted) == original
    current = previous_record(updated.raw, nct, updated.today)
    assert current is not None and current != original
    assert previous_record(updated.raw, nct, "1999-01-01") is None
    assert previous_record(updated.raw, "NCT00000000", posted) is None


def test_later_updates_add_only_what_is_new_and_keep_the_history(updated: Updated) -> None:
    """Last in this module: it changes the store the tests above read."""
    again = updated.update(updated.server)
    assert again["change_events"] == 0 and again["updated"] == [] and again["new"] == []
    with open_store(updated.spec, read_only=True) as store:
        assert sorted(events(store), key=str) == sorted(updated.scenario.expected, key=str)
        assert len(store.select(_UPDATES).rows) == 1

    tomorrow = (date.fromisoformat(updated.today) + timedelta(days=1)).isoformat()
    records = []
    for study in updated.scenario.after:
        if _nct(study) == updated.scenario.slipped:
            study = _posted(study, tomorrow)
            struct = _status(study)["primaryCompletionDateStruct"]
            struct["date"] = _slipped(struct["date"], 1)
        records.append(study)
    with ReplayServer(ReplayData(records, timestamp="2026-12-06T07:00:00")) as third:
        later = updated.update(third)
    assert later["updated"] == [updated.scenario.slipped] and later["change_events"] == 1
    with open_store(updated.spec, read_only=True) as store:
        slips = sorted(event for event in events(store) if event[0] == updated.scenario.slipped)
        assert len(events(store)) == len(updated.scenario.expected) + 1
    first = next(event for event in updated.scenario.expected if event[0] == updated.scenario.slipped)
    assert slips == sorted([first, (first[0], first[1], first[3], _slipped(str(first[3]), 1))])


def test_a_rebuild_over_a_store_keeps_its_history_and_records_what_the_new_build_changed(tmp_path: Path) -> None:
    scenario = _scenario("2026-12-05")
    before, after = tmp_path / "before.jsonl", tmp_path / "after.jsonl"
    for path, studies in ((before, scenario.before), (after, scenario.after)):
        path.write_text("".join(json.dumps(study) + "\n" for study in studies), encoding="utf-8")
    spec = f"oxigraph:{tmp_path / 'store'}"
    assert build([before], spec, workers=1).change_events == 0
    assert build([after], spec, workers=1).change_events == len(scenario.expected)
    assert build([after], spec, workers=1).change_events == 0  # the history copied, nothing new to add
    with open_store(spec, read_only=True) as store:
        assert sorted(events(store), key=str) == sorted(scenario.expected, key=str)


def test_site_status_types_phases_and_results_are_compared_as_the_vocabulary_says(
    real_studies: dict[str, Study],
) -> None:
    study = next(
        s
        for s in real_studies.values()
        if any("status" in loc for loc in s["protocolSection"].get("contactsLocationsModule", {}).get("locations", []))
        and _status(s).get("primaryCompletionDateStruct", {}).get("type")
        and s["protocolSection"].get("designModule", {}).get("phases")
        and not s.get("hasResults")
    )
    changed = copy.deepcopy(study)
    location = next(
        loc for loc in changed["protocolSection"]["contactsLocationsModule"]["locations"] if "status" in loc
    )
    old_status, location["status"] = location["status"], "WITHDRAWN"
    old_type = _status(changed)["primaryCompletionDateStruct"].pop("type")
    old_phases = changed["protocolSection"]["designModule"]["phases"]
    changed["protocolSection"]["designModule"]["phases"] = ["PHASE3", "PHASE2"]
    changed["hasResults"] = True
    nct = _nct(study)
    found = differences(facts_from_quads(nct, map_study(study).quads), facts_from_quads(nct, map_study(changed).quads))
    site_change = next(item for item in found if item.field == "site_status")
    assert site_change.old is not None and site_change.old.endswith(f": {old_status}")
    assert site_change.new == site_change.old.rpartition(": ")[0] + ": WITHDRAWN"
    assert site_change.country == location.get("country")
    by_field = {item.field: (item.old, item.new) for item in found if item.field != "site_status"}
    old_phase_text = "/".join(sorted(old_phases))
    expected_type = "ESTIMATED" if old_type in ("ESTIMATED", "ANTICIPATED") else "ACTUAL"
    assert by_field == {
        "primary_completion_type": (expected_type, None),
        "results_posted": ("false", "true"),
        **({"phases": (old_phase_text, "PHASE2/PHASE3")} if old_phase_text != "PHASE2/PHASE3" else {}),
    }


def test_the_same_change_recorded_twice_is_one_event_and_a_broken_event_fails_validation(
    real_studies: dict[str, Study],
) -> None:
    study = next(s for s in real_studies.values() if _status(s).get("overallStatus") == "COMPLETED")
    changed = copy.deepcopy(study)
    _status(changed)["overallStatus"] = "TERMINATED"
    nct = _nct(study)
    old, new = (facts_from_quads(nct, map_study(record).quads) for record in (study, changed))
    with open_store("oxigraph:") as store:
        first = UpdateRun(datetime(2026, 12, 5, 8, 30, tzinfo=timezone.utc), "first")
        assert record_changes(store, event_quads(old, new, first, registry=None), first) == 1
        size = len(store)
        later = UpdateRun(datetime(2026, 12, 6, 8, 30, tzinfo=timezone.utc), "later")
        assert record_changes(store, event_quads(old, new, later, registry=None), later) == 0
        assert len(store) == size
        assert validate(store, shapes=SHAPES, limit=0).conforms
        store.update(SPARQL_PROLOGUE + f"DELETE WHERE {{ GRAPH {CHANGES_GRAPH} {{ ?e kg:changedTrial ?t }} }}")
        broken = validate(store, shapes=SHAPES, limit=0)
    assert not broken.conforms
    assert any("kg:changedTrial" in line for line in broken.violations), broken.report_text


def test_the_field_vocabulary_is_the_one_the_shapes_and_the_readme_document() -> None:
    shapes = (REPO / "ontologies" / "shapes.ttl").read_text(encoding="utf-8")
    pattern = re.search(r'sh:path kg:changedField ;.*?sh:pattern "([^"]+)"', shapes, re.DOTALL)
    assert pattern is not None
    readme = (REPO / "ontologies" / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("The field vocabulary (`kg:changedField`)") :]
    documented = set(re.findall(r"^\| `([a-z_]+)`", table, re.MULTILINE)) | set(re.findall(r", `([a-z_]+)`", table))
    assert sorted(name for name in FIELDS if not re.fullmatch(pattern[1], name)) == []
    assert set(FIELDS) <= documented
    assert set(FIELDS) == set(CHANGE_FIELDS), "kg/pipeline/changes.py records what kg changes reads"
    assert not re.fullmatch(pattern[1], "status")


def test_a_previous_record_is_found_in_a_bulk_harvest_too(tmp_path: Path) -> None:
    studies = ReplayData.real().studies()[:5]
    with ReplayServer(ReplayData(studies)) as server:
        client = CtgovClient(server.url, rate=0)
        run_bulk(start_harvest(StudyQuery(), client, root=tmp_path, kind="bulk"), client)
    wanted = studies[2]
    posted = _status(wanted)["lastUpdatePostDateStruct"]["date"]
    assert previous_record(tmp_path, _nct(wanted), posted) == wanted
    assert previous_record(tmp_path, _nct(wanted), "1999-01-01") is None
