"""The calibration of docs/health-score.md over the real records: the rules hold on every trial, and the page holds
the tables ``scripts/health_calibration.py`` writes (so it is regenerated when the rules change)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from kg.analysis.calibration import Calibration, calibrate
from kg.analysis.health import ONGOING
from kg.store import Store

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "health-score.md"


@pytest.fixture(scope="module")
def calibration(real_store: Store) -> Calibration:
    return calibrate(real_store)


def test_no_trial_a_year_late_is_on_track(calibration: Calibration) -> None:
    assert calibration.late_on_track == []
    assert sum(sum(counts.values()) for counts in calibration.labels.values()) == 1102 and calibration.undated == 0


def test_no_registry_date_is_an_overdue_milestone(calibration: Calibration) -> None:
    assert calibration.overdue_registry_dates == []


def test_labels_follow_the_status(calibration: Calibration) -> None:
    assert set(calibration.labels["COMPLETED"]) == {"Completed"}
    assert set(calibration.labels["TERMINATED"]) | set(calibration.labels["WITHDRAWN"]) == {"Stopped"}
    for status in ("SUSPENDED", "UNKNOWN"):
        assert not {"On Track", "Needs Attention"} & set(calibration.labels[status]), status
    ongoing = {label for status in ONGOING for label in calibration.labels.get(status, {})}
    assert ongoing == {"On Track", "Needs Attention", "At Risk", "Off Track"}


def test_the_docs_hold_the_regenerated_tables(calibration: Calibration) -> None:
    spec = importlib.util.spec_from_file_location("health_calibration", ROOT / "scripts" / "health_calibration.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    page = DOCS.read_text(encoding="utf-8")
    assert script.replace_tables(page, calibration.to_markdown()) == page, (
        "docs/health-score.md is stale: run python scripts/health_calibration.py"
    )
