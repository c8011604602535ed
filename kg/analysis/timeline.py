"""A trial's timeline as on the reference trial page: milestones, gaps in words, enrollment period, progress on a date.

Rules, so a page can be reproduced (``as_of`` fixes the day; it defaults to today):

- **Dates** keep the precision the record gives; for arithmetic a ``YYYY-MM`` date is the first of its month and a
  ``YYYY`` date the first of January.
- **Milestone state** on ``as_of``: ``expected`` when the date is after ``as_of``. A trial milestone (study start,
  primary completion, study completion) already reached is ``completed`` when the record calls its date actual,
  ``overdue`` when it still calls it an estimate, and ``not stated`` when the record gives no type: such a date is
  neither actual nor late. A registry date (first submitted, first posted, last update, status verified) is a fact of
  the registry's bookkeeping: ``recorded`` once reached, never overdue, whatever type the registry gives it.
- **Gaps**: the five trial milestones (first submitted, study start, first posted, primary completion, study
  completion) are put in date order (ties keep that order) and each gets the time until the next one, in words.
  The record milestones (last update, status verified) get none.
- **Words for a span of days** (:func:`span_words`): 0 → "Same day"; 1-30 → "N days"; then whole months
  (days / 30.4375) while under 12 months; then whole years (days / 365.25). Units are rounded to the nearest whole,
  halves up, never below 1 ("1 day", "1 month", "1 year" in the singular).
- **Enrollment period**: study start → primary completion (study completion when there is no primary completion).
- **Progress** on ``as_of``: the elapsed share of that period, clamped to 0-100 %, as a whole percent (halves up).
- **Months left**: days from ``as_of`` to primary completion / 30.4375, rounded (halves up); negative once past.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Final, NamedTuple

from kg.queries import QueryError, load_query, select_many, trial_terms
from kg.store import Store, Value

__all__ = [
    "DATE_TYPES",
    "MILESTONES",
    "TYPED_DATES",
    "Milestone",
    "MilestoneInfo",
    "Timeline",
    "months_between",
    "parse_date",
    "round_half_up",
    "span_words",
    "timeline",
    "timeline_of_rows",
    "timelines",
]

logger = logging.getLogger(__name__)

DAYS_PER_MONTH: Final = 365.25 / 12
DAYS_PER_YEAR: Final = 365.25


@dataclass(frozen=True)
class MilestoneInfo:
    """One kind of milestone: its key in ``trial_dates``, how the page names and explains it, and its role."""

    key: str
    label: str
    description: str
    chain: bool  # a milestone that gets a gap to the next one
    on_timeline: bool  # shown in the timeline (else only among the record dates)
    registry: bool  # the registry's bookkeeping (submitted, posted, updated, verified), not the trial's own progress


MILESTONES: Final = (
    MilestoneInfo("first_submitted", "First Submitted", "Initial submission to the registry", True, True, True),
    MilestoneInfo("study_start", "Study Start", "First participant enrolled", True, True, False),
    MilestoneInfo("first_posted", "First Posted", "Study publicly available on registry", True, True, True),
    MilestoneInfo(
        "primary_completion",
        "Primary Completion",
        "Last participant's last visit for primary outcome",
        True,
        True,
        False,
    ),
    MilestoneInfo(
        "study_completion", "Study Completion", "Last participant's last visit for all outcomes", True, True, False
    ),
    MilestoneInfo("last_update", "Last Updated", "Latest changes published on the registry", False, True, True),
    MilestoneInfo("status_verified", "Status Verified", "Sponsor last confirmed the status", False, True, True),
    MilestoneInfo(
        "first_submitted_qc", "First QC Date", "First submission that passed quality control", False, False, True
    ),
    MilestoneInfo(
        "last_update_submitted", "Last Update Submit", "Latest changes submitted by the sponsor", False, False, True
    ),
)
#: What the record says of a date: ``True`` estimated, ``False`` actual, ``None`` no type given.
DATE_TYPES: Final = {True: "estimated", False: "actual", None: "not stated"}
#: Milestones whose record date may carry a type (a ``…DateStruct``); the others are plain registry dates.
TYPED_DATES: Final = frozenset({"study_start", "first_posted", "primary_completion", "study_completion", "last_update"})
_BY_KEY: Final = {info.key: info for info in MILESTONES}


@dataclass(frozen=True)
class Milestone:
    """One dated milestone of one trial, with its state on the ``as_of`` day and the gap to the next one."""

    info: MilestoneInfo
    recorded: str  # as the record gives it: YYYY-MM-DD, YYYY-MM or YYYY
    day: date
    estimated: bool | None  # None: the record gives no type (neither actual nor estimated)
    state: str  # completed | expected | overdue | not stated | recorded (a registry date reached)
    gap_days: int | None = None
    gap: str | None = None

    @property
    def date_type(self) -> str | None:
        """The type of a date the record may type: "estimated", "actual" or "not stated" (the record leaves it out,
        which is never read as actual); None for a plain registry date."""
        return DATE_TYPES[self.estimated] if self.info.key in TYPED_DATES else None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.info.key,
            "label": self.info.label,
            "description": self.info.description,
            "date": self.recorded,
            "estimated": self.estimated,
            "date_type": DATE_TYPES[self.estimated],
            "state": self.state,
            "gap_to_next": self.gap,
            "gap_days": self.gap_days,
        }


class _Dated(NamedTuple):
    """A milestone's date as the record gives it, before its state and gap on a given day."""

    info: MilestoneInfo
    recorded: str
    day: date
    estimated: bool | None


@dataclass(frozen=True)
class Timeline:
    """Milestones and progress of one trial on one day."""

    nct_id: str
    as_of: date
    milestones: list[Milestone]
    period_start: date | None
    period_end: date | None
    months_left: int | None
    elapsed_share: float | None  # not clamped: above 1 once the end date has passed

    def milestone(self, key: str) -> Milestone | None:
        return next((item for item in self.milestones if item.info.key == key), None)

    @property
    def period_days(self) -> int | None:
        if self.period_start is None or self.period_end is None:
            return None
        return (self.period_end - self.period_start).days

    @property
    def enrollment_period(self) -> str | None:
        days = self.period_days
        return None if days is None or days < 0 else span_words(days)

    @property
    def progress_percent(self) -> int | None:
        if self.elapsed_share is None:
            return None
        return round_half_up(min(max(self.elapsed_share, 0.0), 1.0) * 100)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "milestones": [item.to_json() for item in self.milestones if item.info.on_timeline],
            "record_dates": {item.info.key: item.recorded for item in self.milestones},
            "record_date_types": {item.info.key: item.date_type for item in self.milestones if item.date_type},
            "enrollment_period": self.enrollment_period,
            "enrollment_period_days": self.period_days,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "progress_percent": self.progress_percent,
            "elapsed_share": None if self.elapsed_share is None else round(self.elapsed_share, 4),
            "months_left": self.months_left,
        }


def round_half_up(value: float) -> int:
    """Nearest whole number, halves up (Python's ``round`` rounds halves to even: 2.5 → 2)."""
    return math.floor(value + 0.5)


@lru_cache(maxsize=8192)
def parse_date(text: str) -> date | None:
    """``YYYY-MM-DD``, ``YYYY-MM`` (the 1st) or ``YYYY`` (1 January); None for anything else. Remembered: a page
    of thousands of trials parses the same few thousand dates again and again."""
    parts = text.strip().split("-")
    try:
        numbers = [int(part) for part in parts]
        return date(numbers[0], numbers[1] if len(numbers) > 1 else 1, numbers[2] if len(numbers) > 2 else 1)
    except (ValueError, IndexError):
        return None


def months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end`` (negative when ``end`` is earlier), rounded halves up."""
    return round_half_up((end - start).days / DAYS_PER_MONTH)


def span_words(days: int) -> str:
    """A span as the reference page writes it: "Same day", "4 days", "3 months", "2 years" (rules in the module)."""
    if days < 0:
        raise ValueError(f"a span cannot be negative: {days} days")
    if days == 0:
        return "Same day"
    if days <= 30:
        return _plural(days, "day")
    months = max(1, round_half_up(days / DAYS_PER_MONTH))
    if months < 12:
        return _plural(months, "month")
    return _plural(max(1, round_half_up(days / DAYS_PER_YEAR)), "year")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def timeline(store: Store, nct_id: str, *, as_of: date | None = None) -> Timeline:
    """The trial's timeline on ``as_of`` (default: today); raises QueryError when the store has no such trial."""
    return next(iter(timelines(store, [nct_id], as_of=as_of).values()))


def timelines(store: Store, nct_ids: Iterable[str], *, as_of: date | None = None) -> dict[str, Timeline]:
    """NCT id (normalised) → timeline on ``as_of``, for many trials in one query (``trial_dates``); raises
    QueryError when the store lacks any of them."""
    day = as_of or date.today()
    terms = trial_terms("trial_dates", nct_ids)
    rows = select_many(store, load_query("trial_dates").text, "nct", list(terms.values()))
    undated = [terms[nct] for nct, found in rows.items() if not found]
    if undated:
        known = select_many(store, load_query("trial_summary").text, "nct", undated)
        missing = [nct for nct, found in known.items() if not found]
        if missing:
            raise QueryError(f"no trial {', '.join(missing)} in the store {store.spec}")
    return {nct: timeline_of_rows(nct, rows[nct], day) for nct in terms}


def timeline_of_rows(nct: str, rows: list[dict[str, Value]], day: date) -> Timeline:
    """The timeline on ``day`` of a trial whose ``trial_dates`` rows the caller has read already."""
    found: dict[str, _Dated] = {}
    for row in rows:
        info = _BY_KEY.get(str(row["milestone"]))
        recorded = str(row["date"] or "")
        parsed = parse_date(recorded)
        if info is None or parsed is None or info.key in found:
            continue
        estimated = row["estimated"] if isinstance(row["estimated"], bool) else None
        found[info.key] = _Dated(info, recorded, parsed, estimated)
    start = found.get("study_start")
    end = found.get("primary_completion") or found.get("study_completion")
    share = None
    if start and end and end.day > start.day:
        share = (day - start.day).days / (end.day - start.day).days
    return Timeline(
        nct_id=nct,
        as_of=day,
        milestones=_with_gaps([found[info.key] for info in MILESTONES if info.key in found], day),
        period_start=start.day if start else None,
        period_end=end.day if end else None,
        months_left=months_between(day, end.day) if end else None,
        elapsed_share=share,
    )


def _state(info: MilestoneInfo, day: date, estimated: bool | None, as_of: date) -> str:
    if day > as_of:
        return "expected"
    if info.registry:
        return "recorded"
    return {True: "overdue", False: "completed", None: "not stated"}[estimated]


def _with_gaps(dated: list[_Dated], as_of: date) -> list[Milestone]:
    """Trial milestones in date order (ties keep the table's order), each with the gap to the next; then the rest."""
    chain = sorted((item for item in dated if item.info.chain), key=lambda item: item.day)
    milestones = []
    for number, (info, recorded, day, estimated) in enumerate(chain + [item for item in dated if not item.info.chain]):
        gap = (chain[number + 1].day - day).days if number + 1 < len(chain) else None
        state = _state(info, day, estimated, as_of)
        milestones.append(
            Milestone(info, recorded, day, estimated, state, gap, None if gap is None else span_words(gap))
        )
    return milestones
