"""Plausibility of the health score: named scenarios, each the label it must get and why (docs/health-score.md).

Each scenario is the reference trial's record with its status, dates, enrollment and phase (2) changed, marked
synthetic three ways like the demo corpus (an ``NCT98…`` id, a top-level ``"synthetic"`` key, a ``[Synthetic]``
title), built into one in-memory graph beside the demo corpus, whose phase-2 trials are its peers (the seed trial's
phase-1 peers stay the demo's own). Every scenario is scored on ``AS_OF``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from kg.analysis.health import Health, health_scores
from kg.demo import seed_study, write_demo_corpus
from kg.pipeline.build import build_into
from kg.store import Store
from kg.store.oxigraph import OxigraphStore
from tests.conftest import SEED_NCT

AS_OF = date(2024, 7, 1)


@dataclass(frozen=True)
class Scenario:
    name: str
    why: str
    label: str
    status: str
    dates: dict[str, tuple[str, str | None]]  # startDateStruct etc. → (date, type or None for no type)
    enrollment: tuple[int, str] = (20, "ESTIMATED")
    verified: str = "2024-06"
    extra: dict[str, Any] = field(default_factory=dict)


def _dates(start: str, primary: str, completion: str, kind: str | None = "ESTIMATED", start_kind: str = "ACTUAL"):
    return {
        "startDateStruct": (start, start_kind),
        "primaryCompletionDateStruct": (primary, kind),
        "completionDateStruct": (completion, kind),
    }


SCENARIOS = [
    Scenario(
        "healthy recruiting",
        "started on time, completion ahead, verified last month: nothing against it",
        "On Track",
        "RECRUITING",
        _dates("2024-01-15", "2025-09-01", "2025-12-01"),
    ),
    Scenario(
        "overdue 3 months",
        "still recruiting three months after its estimated primary completion: more than the registry's 30-day lag",
        "Needs Attention",
        "RECRUITING",
        _dates("2023-01-15", "2024-04-01", "2024-12-01"),
    ),
    Scenario(
        "overdue 12 months",
        "a year past its estimated primary completion and still recruiting",
        "At Risk",
        "RECRUITING",
        _dates("2022-01-15", "2023-07-01", "2025-12-01"),
    ),
    Scenario(
        "overdue 36 months",
        "three years past its estimated primary completion, status as of 2021",
        "Off Track",
        "RECRUITING",
        _dates("2019-06-01", "2021-07-01", "2021-12-01"),
        verified="2021-03",
    ),
    Scenario(
        "suspended for years",
        "suspended since 2010, completion long past, no verification since",
        "Off Track",
        "SUSPENDED",
        _dates("2008-03-01", "2011-06-01", "2011-12-01"),
        verified="2010-05",
    ),
    Scenario(
        "withdrawn with 0",
        "withdrawn before enrolling: finished, and no enrollment points for a count of 0",
        "Stopped",
        "WITHDRAWN",
        _dates("2023-01-01", "2024-01-01", "2024-06-01"),
        enrollment=(0, "ACTUAL"),
        verified="2023-02",
    ),
    Scenario(
        "terminated early",
        "terminated after one participant: finished, enrollment a sliver of its peers'",
        "Stopped",
        "TERMINATED",
        _dates("2022-01-10", "2022-09-01", "2022-09-01", kind="ACTUAL"),
        enrollment=(1, "ACTUAL"),
        verified="2022-10",
    ),
    Scenario(
        "completed on time",
        "completed, actual dates, a usual duration",
        "Completed",
        "COMPLETED",
        _dates("2021-03-01", "2022-09-01", "2022-12-01", kind="ACTUAL"),
        enrollment=(24, "ACTUAL"),
        verified="2023-01",
    ),
    Scenario(
        "completed late",
        "completed after three times its peers' usual duration",
        "Completed",
        "COMPLETED",
        _dates("2015-03-01", "2021-09-01", "2021-12-01", kind="ACTUAL"),
        enrollment=(24, "ACTUAL"),
        verified="2022-01",
    ),
    Scenario(
        "untyped dates",
        "a primary completion in the past with no type: not stated, so neither done nor late",
        "On Track",
        "RECRUITING",
        _dates("2023-06-01", "2024-03-01", "2025-01-01", kind=None),
    ),
    Scenario(
        "stale verification",
        "dates ahead, but the status was last verified 30 months ago",
        "At Risk",
        "RECRUITING",
        _dates("2021-06-01", "2025-06-01", "2025-12-01"),
        verified="2022-01",
    ),
    Scenario(
        "not yet recruiting, start long past",
        "its estimated start passed 14 months ago and it has not started recruiting",
        "At Risk",
        "NOT_YET_RECRUITING",
        _dates("2023-05-01", "2025-05-01", "2025-12-01", start_kind="ESTIMATED"),
    ),
    Scenario(
        "status unknown",
        "the registry lost track of it: at best At Risk whatever the score",
        "At Risk",
        "UNKNOWN",
        _dates("2023-06-01", "2025-06-01", "2025-12-01"),
    ),
]


def _record(number: int, scenario: Scenario) -> dict[str, Any]:
    study = copy.deepcopy(seed_study())
    study["synthetic"] = True
    protocol = study["protocolSection"]
    nct = f"NCT98{number:06d}"
    protocol["identificationModule"]["nctId"] = nct
    protocol["identificationModule"]["briefTitle"] = f"[Synthetic] health scenario: {scenario.name}"
    status = protocol["statusModule"]
    status["overallStatus"] = scenario.status
    status["statusVerifiedDate"] = scenario.verified
    for key, (day, kind) in scenario.dates.items():
        status[key] = {"date": day} if kind is None else {"date": day, "type": kind}
    status["studyFirstPostDateStruct"] = {"date": "2021-01-05", "type": "ESTIMATED"}  # a registry date, never late
    count, kind = scenario.enrollment
    protocol["designModule"]["enrollmentInfo"] = {"count": count, "type": kind}
    protocol["designModule"]["phases"] = [
        "PHASE2"
    ]  # peers among the demo's phase-2 trials; the seed's stay as they are
    return study


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Health], Store]:
    folder = tmp_path_factory.mktemp("scenarios")
    corpus = write_demo_corpus(folder / "demo")  # the demo graph: the seed trial's page figures hold in it
    records = [_record(number, scenario) for number, scenario in enumerate(SCENARIOS, start=1)]
    scenarios = folder / "scenarios.json"
    scenarios.write_text(json.dumps(records), encoding="utf-8")
    store = OxigraphStore()
    build_into(store, [*corpus, scenarios])
    ids = [record["protocolSection"]["identificationModule"]["nctId"] for record in records] + [SEED_NCT]
    scores = health_scores(store, ids, as_of=AS_OF)
    return scores, store


@pytest.mark.parametrize("number,scenario", list(enumerate(SCENARIOS, start=1)), ids=[s.name for s in SCENARIOS])
def test_scenario_label(scored: tuple[dict[str, Health], Store], number: int, scenario: Scenario) -> None:
    health = scored[0][f"NCT98{number:06d}"]
    assert health.label == scenario.label, (scenario.why, health.score, health.caps, health.to_json()["components"])


def _health(scored: tuple[dict[str, Health], Store], name: str) -> Health:
    number = next(number for number, scenario in enumerate(SCENARIOS, start=1) if scenario.name == name)
    return scored[0][f"NCT98{number:06d}"]


def test_lateness_scales_with_how_late(scored: tuple[dict[str, Health], Store]) -> None:
    timings = [_health(scored, f"overdue {months} months").components["timeline"] for months in (3, 12, 36)]
    assert [timing.value["months_late"] for timing in timings] == [3, 12, 36]
    assert timings[0].points > timings[1].points > timings[2].points
    assert _health(scored, "healthy recruiting").components["timeline"].value["months_late"] == 0


def test_untyped_dates_are_neither_actual_nor_overdue(scored: tuple[dict[str, Health], Store]) -> None:
    health = _health(scored, "untyped dates")
    primary = health.timeline.milestone("primary_completion")
    assert primary is not None and primary.estimated is None and primary.state == "not stated"
    assert primary.to_json()["date_type"] == "not stated" and primary.to_json()["estimated"] is None
    assert health.components["timeline"].value["estimated_dates_past"] == [] and not health.caps


def test_registry_dates_are_never_overdue(scored: tuple[dict[str, Health], Store]) -> None:
    for health in scored[0].values():
        for milestone in health.timeline.milestones:
            if milestone.info.registry:
                assert milestone.state in ("recorded", "expected"), (health.nct_id, milestone)


def test_enrollment_of_zero_or_one_earns_little(scored: tuple[dict[str, Health], Store]) -> None:
    withdrawn = _health(scored, "withdrawn with 0")
    assert withdrawn.components["enrollment"].points == 0
    assert (
        withdrawn.achieved() == withdrawn.to_json()["achieved"] and withdrawn.to_json()["achieved"]["enrollment"] == 0
    )
    terminated = _health(scored, "terminated early").components["enrollment"]
    assert terminated.value["count_type"] == "actual" and terminated.points <= 2, terminated.explanation


def test_finished_trials_say_what_they_achieved(scored: tuple[dict[str, Health], Store]) -> None:
    on_time, late = _health(scored, "completed on time").achieved(), _health(scored, "completed late").achieved()
    assert on_time is not None and late is not None
    assert on_time["duration_type"] == "actual" and on_time["duration_to_median"] <= 1.25
    assert late["duration_to_median"] > 2
    assert _health(scored, "completed late").components["timeline"].points < 35
    assert _health(scored, "healthy recruiting").achieved() is None


def test_every_label_is_reached(scored: tuple[dict[str, Health], Store]) -> None:
    labels = {health.label for health in scored[0].values()}
    assert labels >= {"On Track", "Needs Attention", "At Risk", "Off Track", "Completed", "Stopped"}


def test_the_seed_trial_keeps_its_page_figures(scored: tuple[dict[str, Health], Store]) -> None:
    """22 participants, P25-P50 for phase 1, On Track; 19 months left and 23 % on the page's own day."""
    _, store = scored
    seed = health_scores(store, [SEED_NCT], as_of=date(2026, 5, 5))[SEED_NCT]
    enrollment = seed.components["enrollment"]
    assert enrollment.value["target"] == 22 and enrollment.value["band"] == "P25-P50"
    assert "P25-P50 for phase 1" in enrollment.explanation
    assert seed.timeline.months_left == 19 and seed.timeline.progress_percent == 23
    assert seed.label == "On Track" and not seed.caps


def test_scenario_records_are_marked_synthetic() -> None:
    record = _record(1, SCENARIOS[0])
    assert record["synthetic"] is True and record["protocolSection"]["identificationModule"]["nctId"].startswith(
        "NCT98"
    )
    assert record["protocolSection"]["identificationModule"]["briefTitle"].startswith("[Synthetic]")
