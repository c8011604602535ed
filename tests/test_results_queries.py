"""The named queries over a trial's posted results and references answer what the raw JSON of the real records
says, computed here independently of the mapping."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from kg.queries import run
from kg.store import Store

Study = dict[str, Any]
Row = dict[str, Any]

#: Trials with many outcomes, analyses, class denominators, withdrawals and adverse events, always checked.
LARGE = ("NCT01026818", "NCT00468650", "NCT00301262")


def _text(item: dict[str, Any], key: str) -> str | None:
    """A text field as the mapping keeps it: absent, empty and blank are all "not given"."""
    value = item.get(key)
    return value if value and not value.isspace() else None


def _results(study: Study, module: str) -> dict[str, Any]:
    return study.get("resultsSection", {}).get(module, {})


def _sample(studies: dict[str, Study], module: str) -> list[str]:
    """Every third trial whose results hold ``module``, plus the large ones: each query is really compared on
    dozens of trials and on its largest answers, in seconds."""
    having = sorted(nct for nct, study in studies.items() if _results(study, module))
    return sorted(set(having[::3]) | {nct for nct in LARGE if nct in having})


def _denominator(owners: list[dict[str, Any]], group_id: str, selected: str | None) -> int | None:
    """The group's count in the first owner (class, measure, baseline) that has one, in ``selected`` units when
    the measure names them (the smallest, should several units qualify)."""
    for owner in owners:
        counts = [
            int(count["value"])
            for denom in owner.get("denoms", [])
            if selected is None or denom.get("units") in (None, selected)
            for count in denom.get("counts", [])
            if count.get("groupId") == group_id
        ]
        if counts:
            return min(counts)
    return None


def _measurements(measure: dict[str, Any], owners: list[dict[str, Any]]) -> dict[tuple[int, int, str], Row]:
    """(class, category, group id) → the measurement's verbatim values and the group's denominator."""
    found = {}
    selected = _text(measure, "denomUnitsSelected")
    for c, measure_class in enumerate(measure.get("classes", []), start=1):
        for k, category in enumerate(measure_class.get("categories", []), start=1):
            for cell in category.get("measurements", []):
                group_id = cell["groupId"]
                found[(c, k, group_id)] = {
                    "class_title": _text(measure_class, "title"),
                    "category_title": _text(category, "title"),
                    "value": _text(cell, "value"),
                    "spread": _text(cell, "spread"),
                    "lower_limit": _text(cell, "lowerLimit"),
                    "upper_limit": _text(cell, "upperLimit"),
                    "denominator": _denominator([measure_class, measure, *owners], group_id, selected),
                }
    return found


def _picked(row: Row, keys: list[str]) -> Row:
    return {key: row[key] for key in keys}


_CELL = ["class_title", "category_title", "value", "spread", "lower_limit", "upper_limit", "denominator"]


def test_trial_outcome_results(real_store: Store, real_studies: dict[str, Study]) -> None:
    for nct in _sample(real_studies, "outcomeMeasuresModule"):
        expected: dict[tuple[int, int, int, str], Row] = {}
        outcomes = _results(real_studies[nct], "outcomeMeasuresModule")["outcomeMeasures"]
        for n, outcome in enumerate(outcomes, start=1):
            for (c, k, group_id), cell in _measurements(outcome, []).items():
                expected[(n, c, k, group_id)] = {
                    **cell,
                    "title": _text(outcome, "title"),
                    "type": outcome.get("type"),
                    "unit": _text(outcome, "unitOfMeasure"),
                    "param_type": outcome.get("paramType"),
                }
        rows = run(real_store, "trial_outcome_results", {"nct": nct}).rows
        keys = [(r["outcome_position"], r["class_position"], r["category_position"], r["group_id"]) for r in rows]
        assert keys == sorted(expected), nct
        for key, row in zip(keys, rows, strict=True):
            assert _picked(row, list(expected[key])) == expected[key], (nct, key)


def test_trial_outcome_results_denominators_of_classes(real_store: Store, real_studies: dict[str, Study]) -> None:
    """A class with its own denominators counts in them, not in its measure's: both are linked to the same group."""
    cases = [
        (nct, n, c, {count["groupId"]: int(count["value"]) for count in measure_class["denoms"][0]["counts"]})
        for nct, study in sorted(real_studies.items())
        for n, outcome in enumerate(_results(study, "outcomeMeasuresModule").get("outcomeMeasures", []), start=1)
        if outcome.get("denoms")
        for c, measure_class in enumerate(outcome.get("classes", []), start=1)
        if measure_class.get("denoms")
    ]
    assert cases, "no real outcome has class denominators beside its own"
    for nct, n, c, own in cases[:: max(1, len(cases) // 10)]:
        rows = run(real_store, "trial_outcome_results", {"nct": nct}).rows
        counted = {
            r["group_id"]: r["denominator"] for r in rows if (r["outcome_position"], r["class_position"]) == (n, c)
        }
        assert counted and counted == {group: own[group] for group in counted}, (nct, n, c)


def test_trial_outcome_analyses(real_store: Store, real_studies: dict[str, Study]) -> None:
    for nct in _sample(real_studies, "outcomeMeasuresModule"):
        expected = []
        outcomes = _results(real_studies[nct], "outcomeMeasuresModule")["outcomeMeasures"]
        for n, outcome in enumerate(outcomes, start=1):
            for a, analysis in enumerate(outcome.get("analyses", []), start=1):
                expected.append(
                    {
                        "outcome_position": n,
                        "analysis_position": a,
                        "title": _text(outcome, "title"),
                        "group_ids": sorted(analysis.get("groupIds", [])),
                        "method": _text(analysis, "statisticalMethod"),
                        "p_value": _text(analysis, "pValue"),
                        "estimate_type": _text(analysis, "paramType"),
                        "estimate": _text(analysis, "paramValue"),
                        "ci_percent": _text(analysis, "ciPctValue"),
                        "ci_sides": analysis.get("ciNumSides"),
                        "ci_lower_limit": _text(analysis, "ciLowerLimit"),
                        "ci_upper_limit": _text(analysis, "ciUpperLimit"),
                        "non_inferiority_type": analysis.get("nonInferiorityType"),
                        "tested_non_inferiority": analysis.get("testedNonInferiority"),
                    }
                )
        rows = run(real_store, "trial_outcome_analyses", {"nct": nct}).rows
        got = [{**row, "group_ids": sorted(filter(None, str(row["group_ids"] or "").split(" | ")))} for row in rows]
        assert [_picked(row, list(expected[0])) for row in got] == expected, nct


def test_trial_outcome_analyses_name_the_groups_compared(real_store: Store) -> None:
    """Each compared group is named by its title, as many titles as ids."""
    for row in run(real_store, "trial_outcome_analyses", {"nct": "NCT01026818"}).rows:
        assert len(str(row["groups"]).split(" | ")) == len(str(row["group_ids"]).split(" | "))


def _expected_events(study: Study) -> tuple[dict[tuple[str, int, str], Row], set[str]]:
    """(kind, position, group id) → the event's values for that group; and the groups no event counts."""
    module = _results(study, "adverseEventsModule")
    events: dict[tuple[str, int, str], Row] = {}
    for kind in ("serious", "other"):
        for e, event in enumerate(module.get(f"{kind}Events", []), start=1):
            for stats in event.get("stats", []):
                events[(kind, e, stats["groupId"])] = {
                    "term": _text(event, "term"),
                    "organ_system": _text(event, "organSystem"),
                    "num_affected": stats.get("numAffected"),
                    "num_at_risk": stats.get("numAtRisk"),
                    "num_events": stats.get("numEvents"),
                }
    counted = {group_id for (_, _, group_id) in events}
    return events, {group["id"] for group in module.get("eventGroups", [])} - counted


def test_trial_adverse_events(real_store: Store, real_studies: dict[str, Study]) -> None:
    for nct in _sample(real_studies, "adverseEventsModule"):
        study = real_studies[nct]
        module = _results(study, "adverseEventsModule")
        events, quiet = _expected_events(study)
        rows = run(real_store, "trial_adverse_events", {"nct": nct}).rows
        with_event = [r for r in rows if r["kind"] is not None]
        keys = [(r["kind"], r["event_position"], r["group_id"]) for r in with_event]
        assert sorted(keys, key=lambda key: (key[0] != "serious", key[1], key[2])) == keys, nct
        assert {key: _picked(r, list(events[key])) for key, r in zip(keys, with_event, strict=True)} == events, nct
        assert {r["group_id"] for r in rows if r["kind"] is None} == quiet, nct
        totals = {r["group_id"]: (r["serious_affected"], r["serious_at_risk"], r["other_at_risk"]) for r in rows}
        assert totals == {
            group["id"]: (group.get("seriousNumAffected"), group.get("seriousNumAtRisk"), group.get("otherNumAtRisk"))
            for group in module["eventGroups"]
        }, nct
        assert {(r["frequency_threshold"], r["time_frame"]) for r in rows} == {
            (_text(module, "frequencyThreshold"), _text(module, "timeFrame"))
        }, nct


def test_trial_participant_flow(real_store: Store, real_studies: dict[str, Study]) -> None:
    for nct in _sample(real_studies, "participantFlowModule"):
        module = _results(real_studies[nct], "participantFlowModule")
        expected = []
        for p, period in enumerate(module.get("periods", []), start=1):
            for kind, steps, label, counts in (
                ("milestone", "milestones", "type", "achievements"),
                ("withdrawal", "dropWithdraws", "type", "reasons"),
            ):
                for s, step in enumerate(period.get(steps, []), start=1):
                    for count in sorted(step.get(counts, []), key=lambda item: item["groupId"]):
                        expected.append(
                            {
                                "period_position": p,
                                "period": _text(period, "title"),
                                "kind": kind,
                                "step_position": s,
                                "step": _text(step, label),
                                "group_id": count["groupId"],
                                "participants": int(count["numSubjects"]) if "numSubjects" in count else None,
                                "units": int(count["numUnits"]) if "numUnits" in count else None,
                            }
                        )
        rows = run(real_store, "trial_participant_flow", {"nct": nct}).rows
        assert [_picked(r, list(expected[0])) for r in rows] == expected, nct
        assert {r["recruitment_details"] for r in rows} == {_text(module, "recruitmentDetails")}, nct


def test_trial_baseline(real_store: Store, real_studies: dict[str, Study]) -> None:
    for nct in _sample(real_studies, "baselineCharacteristicsModule"):
        module = _results(real_studies[nct], "baselineCharacteristicsModule")
        expected: dict[tuple[int, int, int, str], Row] = {}
        for n, measure in enumerate(module.get("measures", []), start=1):
            for (c, k, group_id), cell in _measurements(measure, [module]).items():
                expected[(n, c, k, group_id)] = {**cell, "measure": _text(measure, "title")}
        rows = run(real_store, "trial_baseline", {"nct": nct}).rows
        keys = [(r["measure_position"], r["class_position"], r["category_position"], r["group_id"]) for r in rows]
        assert keys == sorted(expected), nct
        for key, row in zip(keys, rows, strict=True):
            assert _picked(row, list(expected[key])) == expected[key], (nct, key)


def _citing(studies: dict[str, Study]) -> dict[str, set[str]]:
    """Well-formed PubMed id → the trials citing it."""
    citing: dict[str, set[str]] = defaultdict(set)
    for nct, study in studies.items():
        for reference in study["protocolSection"].get("referencesModule", {}).get("references", []):
            pmid = (reference.get("pmid") or "").strip()
            if pmid.isascii() and pmid.isdigit():
                citing[pmid].add(nct)
    return citing


def test_trial_publications(real_store: Store, real_studies: dict[str, Study]) -> None:
    citing = _citing(real_studies)
    having = sorted(
        n for n, s in real_studies.items() if s["protocolSection"].get("referencesModule", {}).get("references")
    )
    for nct in having[::4]:
        expected = []
        for reference in real_studies[nct]["protocolSection"]["referencesModule"]["references"]:
            pmid = _text(reference, "pmid")
            known = citing.get((pmid or "").strip())
            expected.append(
                {
                    "reference_type": reference.get("type"),
                    "citation": _text(reference, "citation"),
                    "pmid": pmid,
                    "pubmed": f"https://pubmed.ncbi.nlm.nih.gov/{pmid.strip()}" if known else None,
                    "other_trials": len(known) - 1 if known else 0,
                }
            )
        rows = run(real_store, "trial_publications", {"nct": nct}).rows
        assert [r["position"] for r in rows] == list(range(1, len(expected) + 1)), nct
        assert [_picked(r, list(expected[0])) for r in rows] == expected, nct


def test_trials_sharing_publication(real_store: Store, real_studies: dict[str, Study]) -> None:
    shared: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for pmid, trials in _citing(real_studies).items():
        for nct in trials:
            for other in trials - {nct}:
                shared[nct][other].add(pmid)
    assert len(shared) >= 10, "the real records should hold trials sharing publications"
    for nct in sorted(shared):
        rows = run(real_store, "trials_sharing_publication", {"nct": nct}).rows
        assert {r["nct_id"]: set(str(r["pmids"]).split(" | ")) for r in rows} == shared[nct], nct
        assert [r["shared"] for r in rows] == sorted((len(ids) for ids in shared[nct].values()), reverse=True)
    alone = next(nct for nct in sorted(real_studies) if nct not in shared)
    assert run(real_store, "trials_sharing_publication", {"nct": alone}).rows == []


@pytest.mark.parametrize(
    "query",
    [
        "trial_outcome_results",
        "trial_outcome_analyses",
        "trial_adverse_events",
        "trial_participant_flow",
        "trial_baseline",
        "trial_publications",
    ],
)
def test_results_queries_answer_nothing_for_a_trial_without_results_or_references(
    real_store: Store, real_studies: dict[str, Study], query: str
) -> None:
    bare = next(
        nct
        for nct, study in sorted(real_studies.items())
        if not study.get("resultsSection") and not study["protocolSection"].get("referencesModule")
    )
    assert run(real_store, query, {"nct": bare}).rows == []
