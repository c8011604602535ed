"""Trial timelines: the rounding rules in words, the reference trial's milestones, and dates against raw records."""

from __future__ import annotations

import itertools
import math
import random
from datetime import date
from typing import Any

import pytest

from kg.analysis.timeline import months_between, parse_date, span_words, timeline
from kg.queries import QueryError, run
from kg.store import Store
from tests.conftest import SEED_NCT
from tests.trial_page_support import AS_OF, demo_build, demo_store  # noqa: F401

#: API field → our milestone key, with whether the field is a ``{date, type}`` struct.
API_DATES = {
    "studyFirstSubmitDate": ("first_submitted", False),
    "studyFirstSubmitQcDate": ("first_submitted_qc", False),
    "startDateStruct": ("study_start", True),
    "studyFirstPostDateStruct": ("first_posted", True),
    "primaryCompletionDateStruct": ("primary_completion", True),
    "completionDateStruct": ("study_completion", True),
    "lastUpdateSubmitDate": ("last_update_submitted", False),
    "lastUpdatePostDateStruct": ("last_update", True),
    "statusVerifiedDate": ("status_verified", False),
}


def raw_dates(study: dict[str, Any]) -> dict[str, tuple[str, bool | None]]:
    """Milestone key → (date as written, estimated?) straight from a raw record."""
    status = study["protocolSection"].get("statusModule", {})
    found: dict[str, tuple[str, bool | None]] = {}
    for field, (key, is_struct) in API_DATES.items():
        value = status.get(field)
        if value is None:
            continue
        if is_struct:
            if "date" not in value:
                continue
            kind = value.get("type")
            found[key] = (value["date"], None if kind is None else kind in ("ESTIMATED", "ANTICIPATED"))
        else:
            found[key] = (value, None)
    return found


@pytest.mark.parametrize(
    ("days", "words"),
    [
        (0, "Same day"),
        (1, "1 day"),
        (4, "4 days"),
        (30, "30 days"),
        (31, "1 month"),  # 1.02 months
        (45, "1 month"),  # 1.48
        (46, "2 months"),  # 1.51
        (334, "11 months"),  # 10.97
        (350, "11 months"),  # 11.499 months
        (351, "1 year"),  # 11.53 months rounds to 12, so it is counted in years: 0.96
        (365, "1 year"),
        (547, "1 year"),  # 1.498 years
        (548, "2 years"),  # 1.5003 years: halves go up
        (743, "2 years"),  # the reference page: first posted → primary completion
        (3653, "10 years"),
    ],
)
def test_span_words_rounding(days: int, words: str) -> None:
    assert span_words(days) == words


def test_span_words_refuses_negative_spans() -> None:
    with pytest.raises(ValueError, match="negative"):
        span_words(-1)


def test_parse_date_precision_and_months_between() -> None:
    assert parse_date("2026-01") == date(2026, 1, 1)
    assert parse_date("2026") == date(2026, 1, 1)
    assert parse_date("2026-02-30") is None and parse_date("soon") is None
    assert months_between(date(2026, 5, 5), date(2027, 12, 1)) == 19  # 575 days = 18.89 months
    assert months_between(date(2027, 12, 1), date(2026, 5, 5)) == -19


def test_reference_trial_timeline(demo_store: Store) -> None:  # noqa: F811
    line = timeline(demo_store, SEED_NCT, as_of=AS_OF)
    shown = [(item.info.key, item.recorded, item.gap) for item in line.milestones if item.info.on_timeline]
    assert shown == [
        ("first_submitted", "2025-11-14", "Same day"),
        ("study_start", "2025-11-14", "4 days"),
        ("first_posted", "2025-11-18", "2 years"),
        ("primary_completion", "2027-12-01", "Same day"),
        ("study_completion", "2027-12-01", None),
        ("last_update", "2026-01-07", None),
        ("status_verified", "2026-01", None),
    ]
    states = {item.info.key: item.state for item in line.milestones}
    assert states["study_start"] == "completed" and states["primary_completion"] == "expected"
    assert line.progress_percent == 23 and line.months_left == 19 and line.enrollment_period == "2 years"
    elapsed = (AS_OF - date(2025, 11, 14)).days / (date(2027, 12, 1) - date(2025, 11, 14)).days
    assert line.elapsed_share == pytest.approx(elapsed)
    as_json = line.to_json()
    assert as_json["progress_percent"] == 23 and as_json["months_left"] == 19
    assert as_json["record_dates"]["first_submitted_qc"] == "2025-11-14"


def test_timeline_on_other_days(demo_store: Store) -> None:  # noqa: F811
    before = timeline(demo_store, SEED_NCT, as_of=date(2025, 1, 1))
    assert before.progress_percent == 0 and all(item.state == "expected" for item in before.milestones)
    after = timeline(demo_store, SEED_NCT, as_of=date(2028, 6, 1))
    assert after.progress_percent == 100 and after.months_left == -6  # 183 days past 2027-12-01
    # estimated dates that have passed are overdue, not completed
    assert {item.info.key for item in after.milestones if item.state == "overdue"} == {
        "primary_completion",
        "study_completion",
    }


def test_unknown_trial_is_a_query_error(demo_store: Store) -> None:  # noqa: F811
    with pytest.raises(QueryError, match="no trial NCT00000000"):
        timeline(demo_store, "NCT00000000", as_of=AS_OF)


@pytest.mark.slow
def test_trial_dates(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    """``trial_dates`` returns each record's dates with the registry's estimate flag, for a sample of real trials."""
    sample = random.Random(8).sample(sorted(real_studies), 150)
    for nct in sample:
        rows = run(real_store, "trial_dates", {"nct": nct}).rows
        got = {str(row["milestone"]): (row["date"], row["estimated"]) for row in rows}
        assert len(got) == len(rows), nct  # one row per milestone
        assert got == raw_dates(real_studies[nct]), nct


@pytest.mark.slow
def test_real_timelines_follow_the_records(real_store: Store, real_studies: dict[str, dict[str, Any]]) -> None:
    """Progress and months left recomputed from the raw dates by the documented rules, for a sample of trials."""
    as_of = date(2025, 6, 1)
    for nct in random.Random(9).sample(sorted(real_studies), 100):
        dates = {key: value for key, (value, _) in raw_dates(real_studies[nct]).items()}
        line = timeline(real_store, nct, as_of=as_of)
        end_text = dates.get("primary_completion") or dates.get("study_completion")
        end = _first_of(end_text) if end_text else None
        assert line.months_left == (None if end is None else _half_up((end - as_of).days / (365.25 / 12))), nct
        start = _first_of(dates["study_start"]) if "study_start" in dates else None
        if start and end and end > start:
            share = min(max((as_of - start).days / (end - start).days, 0), 1)
            assert line.progress_percent == _half_up(share * 100), nct
        else:
            assert line.progress_percent is None, nct
        chain = [item for item in line.milestones if item.info.chain]
        assert [item.day for item in chain] == sorted(item.day for item in chain), nct
        assert all(item.gap_days == (following.day - item.day).days for item, following in itertools.pairwise(chain))


def _first_of(text: str) -> date:
    parts = [int(part) for part in text.split("-")] + [1, 1]
    return date(parts[0], parts[1], parts[2])


def _half_up(value: float) -> int:
    return math.floor(value + 0.5)
