"""Each named query's answer on the real records equals an independent computation over the raw JSON."""

from __future__ import annotations

from collections import Counter, defaultdict
from statistics import mean
from typing import Any

import pytest

from kg.identifiers import normalize_mesh_id
from kg.queries import QueryError, bind, list_queries, load_query, run
from kg.store import Store

Study = dict[str, Any]


def _protocol(study: Study, module: str) -> dict[str, Any]:
    return study["protocolSection"].get(module, {})


def _phase(study: Study) -> str:
    phases = sorted(_protocol(study, "designModule").get("phases") or [])
    if not phases:
        return "NONE"
    return phases[0] if phases[0] == phases[-1] else f"{phases[0]}/{phases[-1]}"


def _lead(study: Study) -> dict[str, Any]:
    return _protocol(study, "sponsorCollaboratorsModule").get("leadSponsor", {})


def _mesh(study: Study, module: str, field: str) -> list[dict[str, str]]:
    return study.get("derivedSection", {}).get(module, {}).get(field, [])


def test_every_query_has_a_test() -> None:
    """A test named after each query (``test_NAME`` or ``test_NAME_…``) in some test module."""
    from tests.conftest import REPO

    source = "\n".join(path.read_text(encoding="utf-8") for path in (REPO / "tests").glob("test_*.py"))
    untested = {
        q.name for q in list_queries() if f"def test_{q.name}(" not in source and f"def test_{q.name}_" not in source
    }
    assert not untested, f"named queries without a test here: {sorted(untested)}"


def test_phase_status_counts(real_store: Store, real_studies: dict[str, Study]) -> None:
    expected = Counter(
        (_phase(s), _protocol(s, "statusModule").get("overallStatus", "NONE")) for s in real_studies.values()
    )
    rows = run(real_store, "phase_status_counts").rows
    assert {(r["phase"], r["status"]): r["trials"] for r in rows} == dict(expected)


def test_trials_by_start_year(real_store: Store, real_studies: dict[str, Study]) -> None:
    expected: Counter[int] = Counter()
    estimated: Counter[int] = Counter()
    for study in real_studies.values():
        start = _protocol(study, "statusModule").get("startDateStruct", {})
        if "date" in start:
            year = int(start["date"][:4])
            expected[year] += 1
            estimated[year] += start.get("type") == "ESTIMATED"
    rows = run(real_store, "trials_by_start_year").rows
    assert {r["year"]: r["trials"] for r in rows} == dict(expected)
    assert {r["year"]: r["estimated_starts"] for r in rows} == dict(estimated)


def test_trials_by_sponsor_class(real_store: Store, real_studies: dict[str, Study]) -> None:
    expected = Counter(_lead(s).get("class", "NONE") for s in real_studies.values())
    rows = run(real_store, "trials_by_sponsor_class").rows
    assert {r["sponsor_class"]: r["trials"] for r in rows} == dict(expected)


def test_top_sponsors(real_store: Store, real_studies: dict[str, Study]) -> None:
    by_name: dict[str, set[str]] = defaultdict(set)
    for nct, study in real_studies.items():
        if "name" in _lead(study):
            by_name[" ".join(_lead(study)["name"].casefold().split())].add(nct)
    counts = sorted((len(ids) for ids in by_name.values()), reverse=True)[:25]
    rows = run(real_store, "top_sponsors").rows
    assert [r["trials"] for r in rows] == counts
    for row in rows:
        assert len(by_name[" ".join(str(row["sponsor"]).casefold().split())]) == row["trials"]


def test_trials_by_country(real_store: Store, real_studies: dict[str, Study]) -> None:
    trials: dict[str, set[str]] = defaultdict(set)
    sites: Counter[str] = Counter()
    for nct, study in real_studies.items():
        for location in _protocol(study, "contactsLocationsModule").get("locations", []):
            if location.get("country"):
                trials[location["country"]].add(nct)
                sites[location["country"]] += 1
    rows = run(real_store, "trials_by_country").rows
    assert {r["country"]: r["trials"] for r in rows} == {country: len(ids) for country, ids in trials.items()}
    assert {r["country"]: r["sites"] for r in rows} == dict(sites)


def test_enrollment_by_phase(real_store: Store, real_studies: dict[str, Study]) -> None:
    values: dict[str, list[int]] = defaultdict(list)
    for study in real_studies.values():
        count = _protocol(study, "designModule").get("enrollmentInfo", {}).get("count")
        if count is not None:
            values[_phase(study)].append(count)
    rows = {r["phase"]: r for r in run(real_store, "enrollment_by_phase").rows}
    assert set(rows) == set(values)
    for phase, counts in values.items():
        row = rows[phase]
        assert (row["trials"], row["min"], row["max"], row["total"]) == (
            len(counts),
            min(counts),
            max(counts),
            sum(counts),
        )
        assert row["mean"] == pytest.approx(mean(counts))


def _matching(studies: dict[str, Study], value: str, *, kind: str) -> set[str]:
    """Trials whose written names, MeSH terms or registry ancestors contain ``value`` (or have it as id)."""
    module = f"{kind}BrowseModule"
    needle = value.casefold()
    try:
        wanted_id = normalize_mesh_id(value)
    except ValueError:
        wanted_id = None
    found = set()
    for nct, study in studies.items():
        if kind == "condition":
            written = _protocol(study, "conditionsModule").get("conditions", [])
        else:
            interventions = _protocol(study, "armsInterventionsModule").get("interventions", [])
            written = [i["name"] for i in interventions] + [n for i in interventions for n in i.get("otherNames", [])]
        terms = _mesh(study, module, "meshes") + _mesh(study, module, "ancestors")
        if (
            any(needle in text.casefold() for text in written)
            or any(needle in term["term"].casefold() for term in terms)
            or any(normalize_mesh_id(term["id"]) == wanted_id for term in terms)
        ):
            found.add(nct)
    return found


@pytest.mark.parametrize("condition", ["lung", "Neoplasms", "D009369", "D000009369", "hernia", "no-such-condition"])
def test_trials_by_condition(real_store: Store, real_studies: dict[str, Study], condition: str) -> None:
    rows = run(real_store, "trials_by_condition", {"condition": condition}).rows
    assert {r["nct"] for r in rows} == _matching(real_studies, condition, kind="condition")


@pytest.mark.parametrize("intervention", ["docetaxel", "D000077143", "placebo", "app", "C000447941"])
def test_trials_by_intervention(real_store: Store, real_studies: dict[str, Study], intervention: str) -> None:
    rows = run(real_store, "trials_by_intervention", {"intervention": intervention}).rows
    assert {r["nct"] for r in rows} == _matching(real_studies, intervention, kind="intervention")


def test_trial_summary(real_store: Store, real_studies: dict[str, Study]) -> None:
    for nct in sorted(real_studies)[::97]:
        study = real_studies[nct]
        (row,) = run(real_store, "trial_summary", {"nct": nct}).rows
        status = _protocol(study, "statusModule")
        locations = _protocol(study, "contactsLocationsModule").get("locations", [])
        assert row["title"] == _protocol(study, "identificationModule")["briefTitle"]
        assert row["status"] == status.get("overallStatus")
        assert row["phases"] == (None if _phase(study) == "NONE" else _phase(study))
        assert row["start"] == status.get("startDateStruct", {}).get("date")
        assert row["enrollment"] == _protocol(study, "designModule").get("enrollmentInfo", {}).get("count")
        assert row["lead_sponsor"] == _lead(study).get("name")
        assert (row["sites"] or 0) == len(locations)
        assert (row["countries"] or 0) == len({loc["country"] for loc in locations if loc.get("country")})
        assert row["synthetic"] is False


def test_trial_mesh(real_store: Store, real_studies: dict[str, Study]) -> None:
    for nct in sorted(real_studies)[::61]:
        study = real_studies[nct]
        rows = run(real_store, "trial_mesh", {"nct": nct}).rows
        expected = {
            (role, normalize_mesh_id(term["id"]))
            for role, module, field in (
                ("condition", "conditionBrowseModule", "meshes"),
                ("condition ancestor", "conditionBrowseModule", "ancestors"),
                ("intervention", "interventionBrowseModule", "meshes"),
                ("intervention ancestor", "interventionBrowseModule", "ancestors"),
            )
            for term in _mesh(study, module, field)
        }
        assert {(r["role"], r["mesh_id"]) for r in rows} == expected


def test_trial_parts(real_store: Store, real_studies: dict[str, Study]) -> None:
    for nct in sorted(real_studies)[::83]:
        study = real_studies[nct]
        rows = run(real_store, "trial_parts", {"nct": nct}).rows
        parts = Counter(r["part"] for r in rows)
        # conditions as this trial writes them, whatever spelling other trials use
        conditions = sorted(str(r["label"]) for r in rows if r["part"] == "condition")
        assert conditions == sorted(_protocol(study, "conditionsModule").get("conditions", [])), nct
        written = {i["name"] for i in _protocol(study, "armsInterventionsModule").get("interventions", [])}
        assert {r["label"] for r in rows if r["part"] == "intervention"} <= written, nct
        secondary = [i["id"] for i in _protocol(study, "identificationModule").get("secondaryIdInfos", [])]
        assert sorted(r["label"] for r in rows if r["part"] == "secondary id") == sorted(secondary), nct
        outcomes = _protocol(study, "outcomesModule")
        arms = _protocol(study, "armsInterventionsModule")
        assert parts["primary outcome"] == len(outcomes.get("primaryOutcomes", []))
        assert parts["secondary outcome"] == len(outcomes.get("secondaryOutcomes", []))
        assert parts["arm"] == len(arms.get("armGroups", []))
        assert parts["site"] == len(_protocol(study, "contactsLocationsModule").get("locations", []))
        names = {
            (i.get("type", "OTHER"), " ".join(i["name"].casefold().split())) for i in arms.get("interventions", [])
        }
        assert parts["intervention"] == len(names)


def test_parameters_are_bound_not_formatted() -> None:
    """A hostile value stays one literal: the query text outside the VALUES block is unchanged."""
    query = load_query("trials_by_condition")
    hostile = '") } } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o FILTER("'
    text = bind(query, {"condition": hostile})
    assert text.count("DROP ALL") == 1 and '\\") } } ; DROP ALL' in text
    assert text.replace(text[text.index("\n  VALUES") : text.index("}\n", text.index("\n  VALUES")) + 2], "") == (
        query.text
    )


def test_hostile_parameter_matches_nothing_and_changes_nothing(real_store: Store) -> None:
    before = len(real_store)
    rows = run(real_store, "trials_by_condition", {"condition": '"} } DELETE WHERE { ?s ?p ?o } #'}).rows
    assert rows == [] and len(real_store) == before


@pytest.mark.parametrize(
    ("name", "values", "message"),
    [
        ("no_such_query", {}, "no query named"),
        ("../etc/passwd", {}, "is not a query name"),
        ("trial_summary", {}, "needs --param nct="),
        ("trial_summary", {"nct": "12345"}, "must be an NCT id"),
        ("phase_status_counts", {"x": "1"}, "has no parameter x"),
    ],
)
def test_query_errors_are_clear(name: str, values: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        bind(load_query(name), values)
