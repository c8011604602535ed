"""Trial health score: each component recomputed independently from the raw records the graph was built from."""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kg.analysis.health import (
    HEALTH_PEERS_INDEX,
    PeerGroups,
    Peers,
    health_score,
    peer_groups,
    percentile_band,
    read_peer_groups,
)
from kg.queries import QueryError, run
from kg.store import Store, open_store
from tests.conftest import SEED_NCT
from tests.trial_page_support import AS_OF, demo_build, demo_records, demo_store  # noqa: F401

#: The documented bands (docs/health-score.md): (lower percentile, points), each band including its upper cut.
BANDS = [(0, 25), (25, 20), (50, 15), (75, 10), (90, 5)]


def phase_of(study: dict[str, Any]) -> str:
    phases = sorted(study["protocolSection"].get("designModule", {}).get("phases", []))
    if not phases:
        return "NONE"
    return phases[0] if phases[0] == phases[-1] else f"{phases[0]}/{phases[-1]}"


def enrollment_of(study: dict[str, Any]) -> int | None:
    return study["protocolSection"].get("designModule", {}).get("enrollmentInfo", {}).get("count")


def enrollment_type_of(study: dict[str, Any]) -> str | None:
    return study["protocolSection"].get("designModule", {}).get("enrollmentInfo", {}).get("type")


def planned_days(study: dict[str, Any]) -> int | None:
    status = study["protocolSection"].get("statusModule", {})
    start = status.get("startDateStruct", {}).get("date")
    end = status.get("primaryCompletionDateStruct", {}).get("date")
    if not start or not end:
        return None
    days = (_first_of(end) - _first_of(start)).days
    return days if days > 0 else None


def _first_of(text: str) -> date:
    parts = [int(part) for part in text.split("-")] + [1, 1]
    return date(parts[0], parts[1], parts[2])


def expected_band(value: int, peers: list[int]) -> tuple[str, int]:
    """The band label and points with numpy's percentiles (linear interpolation, its default)."""
    cuts = np.percentile(peers, [25, 50, 75, 90])
    index = sum(1 for cut in cuts if value > cut)
    lower, points = BANDS[index]
    upper = BANDS[index + 1][0] if index + 1 < len(BANDS) else 100
    return f"P{lower}-P{upper}", points


def peer_values(studies: list[dict[str, Any]], phase: str, value: Any) -> list[int]:
    by_phase: dict[str, list[int]] = defaultdict(list)
    for study in studies:
        found = value(study)
        if found is not None:
            by_phase[phase_of(study)].append(found)
    peers = by_phase.get(phase, [])
    return peers if len(peers) >= 5 else [item for items in by_phase.values() for item in items]


def test_reference_trial_health(demo_store: Store, demo_build: tuple[str, list[Path]]) -> None:  # noqa: F811
    studies = demo_records(demo_build[1])
    health = health_score(demo_store, SEED_NCT, as_of=AS_OF)
    enrollment = health.components["enrollment"]
    phase1 = peer_values(studies, "PHASE1", enrollment_of)
    band, enrollment_points = expected_band(22, phase1)
    assert band == "P25-P50"  # the reference page's band
    assert (
        enrollment.value["target"] == 22 and enrollment.value["band"] == band and enrollment.points == enrollment_points
    )
    assert enrollment.value["peers"] == len(phase1)
    assert enrollment.value["percentiles"]["P50"] == pytest.approx(float(np.median(phase1)))
    assert "P25-P50 for phase 1" in enrollment.explanation

    timing = health.components["timeline"]
    assert timing.value["months_left"] == 19 and timing.value["progress_percent"] == 23
    median = float(np.median(peer_values(studies, "PHASE1", planned_days)))
    assert timing.value["median_duration_days"] == pytest.approx(median)
    ratio = 747 / median
    timeline_points = 35 - (10 if ratio > 2 else 5 if ratio > 1.25 else 0)
    assert timing.points == timeline_points and timing.value["estimated_dates_past"] == []
    assert timing.value["status_verified_stale"] is False

    reach = health.components["reach"]
    assert reach.value == {"countries": 1, "sites": 1, "active_sites": 1} and reach.points == 10
    assert health.components["status"].value["status"] == "RECRUITING" and health.components["status"].points == 20

    assert health.score == enrollment_points + timeline_points + 10 + 20
    assert health.label == ("On Track" if health.score >= 70 else "Needs Attention")
    assert health.label == "On Track"


def test_health_json_contract(demo_store: Store) -> None:  # noqa: F811
    as_json = health_score(demo_store, SEED_NCT, as_of=AS_OF).to_json()
    assert as_json["as_of"] == "2026-05-05" and isinstance(as_json["score"], int) and 0 <= as_json["score"] <= 100
    assert set(as_json["components"]) == {"enrollment", "timeline", "reach", "status"}
    for component in as_json["components"].values():
        assert set(component) == {"value", "points", "max_points", "explanation"}
        assert 0 <= component["points"] <= component["max_points"]
    assert sum(component["max_points"] for component in as_json["components"].values()) == 100
    assert sum(component["points"] for component in as_json["components"].values()) == as_json["score"]


def test_late_estimates_and_stale_status_cost_points(demo_store: Store) -> None:  # noqa: F811
    """On 2028-06-01 the estimated completions have passed and the 2026-01 verification is over a year old."""
    now = health_score(demo_store, SEED_NCT, as_of=AS_OF).components["timeline"]
    later = health_score(demo_store, SEED_NCT, as_of=date(2028, 6, 1)).components["timeline"]
    assert later.value["estimated_dates_past"] == ["Primary Completion", "Study Completion"]
    assert later.value["status_verified_stale"] is True
    assert later.points == now.points - 20
    assert later.value["months_left"] == -6 and later.value["progress_percent"] == 100


def test_default_as_of_is_today(demo_store: Store) -> None:  # noqa: F811
    assert health_score(demo_store, SEED_NCT).as_of == date.today()


def test_unknown_trial(demo_store: Store) -> None:  # noqa: F811
    with pytest.raises(QueryError, match="no trial NCT00000001"):
        health_score(demo_store, "NCT00000001", as_of=AS_OF)


@pytest.mark.parametrize("seed", range(20))
def test_percentile_band_agrees_with_numpy(seed: int) -> None:
    generator = random.Random(seed)
    values = [generator.randint(0, 500) for _ in range(generator.randint(2, 80))]
    for value in [*values[:10], 0, 250, 10_000]:
        label, points = expected_band(value, values)
        band = percentile_band(value, Peers.of(values))
        assert (band.label, band.points) == (label, points), (value, values)
        assert band.rank == pytest.approx(100 * sum(item <= value for item in values) / len(values), abs=0.051)
    peers = Peers.of(values)  # sorted once: the same cuts and median as the standard library's, which sorts each time
    assert [peers.quantile(p) for p in range(1, 100)] == statistics.quantiles(values, n=100, method="inclusive")
    assert peers.median() == statistics.median(values)


def test_phase_peers(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    rows = run(real_store, "phase_peers", {}).rows
    assert len(rows) == len(real_studies)
    for row in rows:
        study = real_studies[str(row["nct"])]
        status = study["protocolSection"].get("statusModule", {})
        assert row["phase"] == phase_of(study)
        assert row["enrollment"] == enrollment_of(study)
        assert row["start"] == status.get("startDateStruct", {}).get("date")
        assert row["primary_completion"] == status.get("primaryCompletionDateStruct", {}).get("date")


def test_trial_sites(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    for nct in random.Random(3).sample(sorted(real_studies), 150):
        locations = real_studies[nct]["protocolSection"].get("contactsLocationsModule", {}).get("locations", [])
        rows = run(real_store, "trial_sites", {"nct": nct}).rows
        assert len(rows) == len(locations), nct
        assert sorted(str(row["status"]) for row in rows) == sorted(str(item.get("status")) for item in locations)
        assert sorted(str(row["country"]) for row in rows) == sorted(str(item.get("country")) for item in locations)


@pytest.mark.slow
def test_real_health_against_raw_records(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    """Enrollment bands against numpy percentiles of each phase group, and reach, from the raw JSON."""
    studies = list(real_studies.values())
    as_of = date(2025, 6, 1)
    checked = 0
    for nct in random.Random(5).sample(sorted(real_studies), 120):
        study = real_studies[nct]
        health = health_score(real_store, nct, as_of=as_of)
        enrollment = health.components["enrollment"]
        target = enrollment_of(study)
        if target:
            peers = peer_values(studies, phase_of(study), enrollment_of)
            label, points = expected_band(target, peers)
            if enrollment_type_of(study) == "ACTUAL":  # achieved against the peers' median (docs/health-score.md)
                points = math.floor(25 * min(1.0, target / float(np.median(peers))) + 0.5)
            assert (enrollment.value["band"], enrollment.points) == (label, points), nct
            checked += 1
        elif target == 0:
            assert enrollment.points == 0, nct
        locations = study["protocolSection"].get("contactsLocationsModule", {}).get("locations", [])
        assert health.components["reach"].value == {
            "countries": len({item["country"] for item in locations if item.get("country")}),
            "sites": len(locations),
            "active_sites": sum(1 for item in locations if item.get("status") == "RECRUITING"),
        }, nct
        status = study["protocolSection"]["statusModule"].get("overallStatus")
        if status == "COMPLETED":
            assert health.label == "Completed"
        elif status in ("TERMINATED", "WITHDRAWN"):
            assert health.label == "Stopped" and health.components["status"].points == 0
    assert checked > 100


def test_peer_distributions_are_saved_beside_the_store_and_a_stale_file_is_ignored(
    demo_build: tuple[str, list[Path]],  # noqa: F811
) -> None:
    """``phase_peers`` reads every trial (34 s at 600k), so the build saves its distributions beside the store; a
    trial page reads them from there, unless they belong to another build."""
    spec = demo_build[0]
    saved = HEALTH_PEERS_INDEX.path(spec)
    assert saved is not None and saved.is_file()
    original = saved.read_bytes()
    try:
        with open_store(spec, read_only=True) as store:
            fresh = read_peer_groups(store)
            assert peer_groups(store) == fresh and fresh.enrollments["PHASE1"]
            marked = PeerGroups(fresh.fingerprint, {"PHASE1": Peers.of([1, 2, 3])}, {})
            HEALTH_PEERS_INDEX.save(marked, saved)
        with open_store(spec, read_only=True) as store:
            assert peer_groups(store) == marked  # read from beside the store, not recomputed
        HEALTH_PEERS_INDEX.save(PeerGroups("another build", {"PHASE1": Peers.of([1, 2, 3])}, {}), saved)
        with open_store(spec, read_only=True) as store:
            assert peer_groups(store) == fresh  # stale: recomputed
    finally:
        saved.write_bytes(original)
