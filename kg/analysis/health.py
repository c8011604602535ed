"""Trial health score: a 0-100 screening score from enrollment target, timeline, geographic reach and status.

Every input comes from the loaded graph; the peer distributions are recomputed from it (never hard-coded), so the
same trial can score differently in a different graph. ``as_of`` (default: today) fixes the day, for reproducible
pages. The user-facing description with examples is ``docs/health-score.md``; keep both in step.

**Peers.** Trials with the same phase (combined phases such as PHASE1/PHASE2 form their own group; trials without
a phase form the group NONE). With fewer than 5 peers the whole graph is the peer group, and the page says so.

**(a) Enrollment target, 25 points.** The trial's enrollment count against its peers' counts: percentiles by linear
interpolation between closest ranks (``statistics.quantiles(method="inclusive")``, numpy's default). Bands, each
including its upper cut: up to P25 → 25, P25-P50 → 20, P50-P75 → 15, P75-P90 → 10, above P90 → 5 (a smaller
target is easier to fill). No count in the record → 10.

**(b) Timeline, 35 points**, minus deductions (never below 0):
an estimated start or completion date already past on ``as_of`` -10; status verified more than 365 days before
``as_of`` -10; planned duration (start → primary completion) over 1.25 x the peers' median -5, over 2 x -10; no
start or no completion date -10. Months left, the elapsed share and progress are reported with it (rules in
:mod:`kg.analysis.timeline`).

**(c) Geographic reach, 20 points.** Countries: 1 → 5, 2-4 → 8, 5 or more → 10. Sites: for a trial that is
recruiting (RECRUITING, ENROLLING_BY_INVITATION) its *active* sites, those whose own status is RECRUITING; for
any other trial all its sites: 1 → 5, 2-9 → 8, 10 or more → 10.

**(d) Overall status, 20 points**: see ``STATUS_POINTS`` (recruiting or completed 20, terminated or withdrawn 0).

**Label** from the score: 70 and above On Track, 50-69 Needs Attention, 30-49 At Risk, below 30 Off Track; a
completed trial is labelled Completed, a terminated or withdrawn one Stopped, whatever its score.
"""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from kg.analysis.saved_index import SavedIndex
from kg.analysis.timeline import Timeline, parse_date, timelines
from kg.queries import QueryError, load_query, run, select_many, trial_terms
from kg.store import Store, Value
from kg.vocab import ENUMERATIONS

__all__ = [
    "BANDS",
    "HEALTH_PEERS_INDEX",
    "STATUS_POINTS",
    "Band",
    "Component",
    "Health",
    "PeerGroups",
    "health_score",
    "health_scores",
    "peer_groups",
    "percentile_band",
    "phase_label",
    "read_peer_groups",
    "summary_health",
]

logger = logging.getLogger(__name__)

MIN_PEERS: Final = 5
STALE_DAYS: Final = 365
#: (lower percentile, points): the band runs from this percentile up to the next one.
BANDS: Final = ((0, 25), (25, 20), (50, 15), (75, 10), (90, 5))
NO_ENROLLMENT_POINTS: Final = 10
STATUS_POINTS: Final = {
    "RECRUITING": 20,
    "ENROLLING_BY_INVITATION": 20,
    "COMPLETED": 20,
    "ACTIVE_NOT_RECRUITING": 18,
    "NOT_YET_RECRUITING": 15,
    "AVAILABLE": 15,
    "APPROVED_FOR_MARKETING": 15,
    "UNKNOWN": 5,
    "SUSPENDED": 5,
    "TEMPORARILY_NOT_AVAILABLE": 5,
    "NO_LONGER_AVAILABLE": 5,
    "WITHHELD": 5,
    "TERMINATED": 0,
    "WITHDRAWN": 0,
}
RECRUITING: Final = frozenset({"RECRUITING", "ENROLLING_BY_INVITATION"})
LABELS: Final = ((70, "On Track"), (50, "Needs Attention"), (30, "At Risk"), (0, "Off Track"))
STATUS_LABELS: Final = {"COMPLETED": "Completed", "TERMINATED": "Stopped", "WITHDRAWN": "Stopped"}
MAX_POINTS: Final = {"enrollment": 25, "timeline": 35, "reach": 20, "status": 20}


@dataclass(frozen=True)
class Component:
    """One part of the score: what was measured, the points it earned, and why, in a sentence."""

    value: dict[str, Any]
    points: int
    max_points: int
    explanation: str

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "points": self.points,
            "max_points": self.max_points,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class Health:
    nct_id: str
    as_of: date
    score: int
    label: str
    components: dict[str, Component]
    timeline: Timeline

    def to_json(self) -> dict[str, Any]:
        return {
            "nct_id": self.nct_id,
            "score": self.score,
            "label": self.label,
            "as_of": self.as_of.isoformat(),
            "components": {name: component.to_json() for name, component in self.components.items()},
        }


@dataclass(frozen=True)
class Band:
    """Where a value sits among its peers: the band label ("P25-P50"), the cut values and its percentile rank."""

    label: str
    lower: int
    points: int
    cuts: dict[str, float]
    rank: float  # share of peers with a value at or below it, in percent


@dataclass(frozen=True)
class PeerGroups:
    """Per phase group: every trial's enrollment count and planned duration in days (start → primary completion)."""

    fingerprint: str
    enrollments: dict[str, list[int]] = field(default_factory=dict)
    durations: dict[str, list[int]] = field(default_factory=dict)


def phase_label(phase: str | None) -> str:
    """``PHASE1`` → "phase 1", ``PHASE1/PHASE2`` → "phase 1/phase 2", ``NA`` → "phase N/A", ``NONE`` → "no phase"."""
    if not phase or phase == "NONE":
        return "no phase"
    if phase == "NA":
        return "phase N/A"
    names = ENUMERATIONS["phase"]
    return "/".join(names.get(code, code).lower() for code in phase.split("/"))


def peer_groups(store: Store) -> PeerGroups:
    """The peer distributions of the whole graph, saved beside an on-disk store with the other indexes and kept per
    open store: ``phase_peers`` reads every trial (34 s at 600k trials), far too slow for every trial page."""
    return HEALTH_PEERS_INDEX.load(store)


def read_peer_groups(store: Store) -> PeerGroups:
    """The peer distributions, read with ``phase_peers``."""
    fingerprint = HEALTH_PEERS_INDEX.fingerprint(store)
    enrollments: dict[str, list[int]] = defaultdict(list)
    durations: dict[str, list[int]] = defaultdict(list)
    for row in run(store, "phase_peers", {}).rows:
        phase = str(row["phase"])
        if isinstance(row["enrollment"], int):
            enrollments[phase].append(row["enrollment"])
        days = _days(row["start"], row["primary_completion"])
        if days is not None and days > 0:
            durations[phase].append(days)
    return PeerGroups(fingerprint, dict(enrollments), dict(durations))


HEALTH_PEERS_INDEX: Final = SavedIndex("health-peers", PeerGroups, 1, read_peer_groups)


def _days(start: object, end: object) -> int | None:
    first, last = parse_date(str(start or "")), parse_date(str(end or ""))
    return None if first is None or last is None else (last - first).days


def percentile_band(value: float, values: list[int]) -> Band:
    """The band of ``value`` among ``values`` (at least two); a band includes its upper cut (the median is P25-P50)."""
    quantiles = statistics.quantiles(values, n=100, method="inclusive")
    cuts = {f"P{percent}": quantiles[percent - 1] for percent, _ in BANDS[1:]}
    lower, points = BANDS[0]
    for percent, band_points in BANDS[1:]:
        if value > quantiles[percent - 1]:
            lower, points = percent, band_points
    uppers = [percent for percent, _ in BANDS if percent > lower]
    label = f"P{lower}-P{uppers[0]}" if uppers else f"P{lower}-P100"
    rank = 100 * sum(1 for item in values if item <= value) / len(values)
    return Band(label, lower, points, cuts, round(rank, 1))


def _peers(groups: dict[str, list[int]], phase: str) -> tuple[list[int], str]:
    values = groups.get(phase, [])
    if len(values) >= MIN_PEERS:
        return values, f"for {phase_label(phase)}"
    everything = [value for items in groups.values() for value in items]
    return everything, f"for all trials (fewer than {MIN_PEERS} with {phase_label(phase)})"


def health_score(store: Store, nct_id: str, *, as_of: date | None = None) -> Health:
    """The health of one trial on ``as_of`` (default: today); raises QueryError when the store has no such trial."""
    return next(iter(health_scores(store, [nct_id], as_of=as_of).values()))


def health_scores(store: Store, nct_ids: Iterable[str], *, as_of: date | None = None) -> dict[str, Health]:
    """NCT id (normalised, in the order given) → health on ``as_of``, for many trials with one query per kind of
    fact (summary, dates, sites), so a page showing hundreds of trials pays a handful of queries, not hundreds."""
    terms = list(trial_terms("trial_summary", nct_ids).values())
    summaries = select_many(store, load_query("trial_summary").text, "nct", terms)
    missing = [nct for nct, rows in summaries.items() if not rows]
    if missing:
        raise QueryError(f"no trial {', '.join(missing)} in the store {store.spec}")
    return summary_health(store, {nct: rows[0] for nct, rows in summaries.items()}, as_of=as_of)


def summary_health(
    store: Store, summaries: Mapping[str, Mapping[str, Value]], *, as_of: date | None = None
) -> dict[str, Health]:
    """:func:`health_scores` for trials whose ``trial_summary`` rows the caller has read already (NCT id → row)."""
    day = as_of or date.today()
    groups = peer_groups(store)
    dates = timelines(store, summaries, as_of=day)
    statuses = load_query("trial_site_statuses")
    sites = select_many(store, statuses.text, "nct", list(trial_terms(statuses.name, summaries).values()))
    return {nct: _health(summary, dates[nct], sites[nct], groups) for nct, summary in summaries.items()}


def _health(summary: Mapping[str, Value], dates: Timeline, sites: list[dict[str, Value]], groups: PeerGroups) -> Health:
    status = str(summary["status"]) if summary["status"] else None
    phase = str(summary["phases"] or "NONE")
    components = {
        "enrollment": _enrollment(summary["enrollment"], phase, groups),
        "timeline": _timeline(dates, phase, groups),
        "reach": _reach(int(summary["countries"] or 0), sites, status),
        "status": _status(status),
    }
    score = sum(component.points for component in components.values())
    label = STATUS_LABELS.get(status or "") or next(name for floor, name in LABELS if score >= floor)
    return Health(dates.nct_id, dates.as_of, score, label, components, dates)


def _enrollment(count: object, phase: str, groups: PeerGroups) -> Component:
    peers, scope = _peers(groups.enrollments, phase)
    maximum = MAX_POINTS["enrollment"]
    if not isinstance(count, int):
        return Component(
            {"target": None, "phase": phase}, NO_ENROLLMENT_POINTS, maximum, "No enrollment count in the record."
        )
    if len(peers) < 2:
        return Component({"target": count, "phase": phase}, NO_ENROLLMENT_POINTS, maximum, "Too few trials to compare.")
    band = percentile_band(count, peers)
    value = {
        "target": count,
        "phase": phase,
        "band": band.label,
        "scope": scope,
        "percentile_rank": band.rank,
        "percentiles": band.cuts,
        "peers": len(peers),
    }
    explanation = (
        f"Target of {count} participants at {band.label} {scope} ({len(peers)} trials; "
        f"median {band.cuts['P50']:g}): {band.points} of {maximum} points."
    )
    return Component(value, band.points, maximum, explanation)


def _timeline(dates: Timeline, phase: str, groups: PeerGroups) -> Component:
    maximum = MAX_POINTS["timeline"]
    deductions: list[tuple[int, str]] = []
    past = [
        item.info.label
        for item in dates.milestones
        if item.info.key in ("study_start", "primary_completion", "study_completion") and item.state == "overdue"
    ]
    if past:
        deductions.append((10, f"estimated {', '.join(past)} already past"))
    verified = dates.milestone("status_verified")
    stale = verified is not None and (dates.as_of - verified.day).days > STALE_DAYS
    if stale:
        deductions.append((10, f"status last verified {verified.recorded if verified else ''}, over a year ago"))
    planned = dates.period_days if dates.period_start and dates.milestone("primary_completion") else None
    peers, scope = _peers(groups.durations, phase)
    median = statistics.median(peers) if peers else None
    ratio = planned / median if planned is not None and median else None
    if ratio is not None and ratio > 2:
        deductions.append((10, f"planned duration {ratio:.1f}x the median {scope}"))
    elif ratio is not None and ratio > 1.25:
        deductions.append((5, f"planned duration {ratio:.1f}x the median {scope}"))
    if dates.period_start is None or dates.period_end is None:
        deductions.append((10, "no start or completion date"))
    points = max(0, maximum - sum(amount for amount, _ in deductions))
    value = {
        "months_left": dates.months_left,
        "elapsed_share": None if dates.elapsed_share is None else round(dates.elapsed_share, 4),
        "progress_percent": dates.progress_percent,
        "started": dates.period_start.isoformat() if dates.period_start else None,
        "planned_duration_days": planned,
        "median_duration_days": median,
        "duration_ratio": None if ratio is None else round(ratio, 2),
        "scope": scope,
        "estimated_dates_past": past,
        "status_verified": verified.recorded if verified else None,
        "status_verified_stale": stale,
    }
    reasons = "; ".join(f"{text} (-{amount})" for amount, text in deductions) or "no deductions"
    return Component(value, points, maximum, f"{reasons}: {points} of {maximum} points.")


def _reach(countries: int, sites: list[dict[str, Value]], status: str | None) -> Component:
    maximum = MAX_POINTS["reach"]
    active = sum(1 for site in sites if site["status"] == "RECRUITING")
    counted = active if status in RECRUITING else len(sites)
    country_points = _steps(countries, ((5, 10), (2, 8), (1, 5)))
    site_points = _steps(counted, ((10, 10), (2, 8), (1, 5)))
    which = ("active site" if status in RECRUITING else "site") + ("" if counted == 1 else "s")
    value = {"countries": countries, "sites": len(sites), "active_sites": active}
    explanation = (
        f"{countries} countr{'y' if countries == 1 else 'ies'} ({country_points} points), {counted} {which} "
        f"({site_points} points): {country_points + site_points} of {maximum} points."
    )
    return Component(value, country_points + site_points, maximum, explanation)


def _steps(count: int, steps: tuple[tuple[int, int], ...]) -> int:
    return next((points for floor, points in steps if count >= floor), 0)


def _status(status: str | None) -> Component:
    maximum = MAX_POINTS["status"]
    points = STATUS_POINTS.get(status or "", 5)
    label = ENUMERATIONS["status"].get(status or "", status or "not given")
    return Component({"status": status, "label": label}, points, maximum, f"{label}: {points} of {maximum} points.")
