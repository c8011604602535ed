"""Trial health score: a 0-100 screening score from enrollment, timeline, geographic reach and status, a label,
and for finished trials what they achieved.

Every input comes from the loaded graph; the peer distributions are recomputed from it (never hard-coded), so the
same trial can score differently in a different graph. ``as_of`` (default: today) fixes the day, for reproducible
pages. The rules, with the reasons for each and a calibration over real records, are ``docs/health-score.md``; keep
both in step.

**Peers.** Trials with the same phase (combined phases such as PHASE1/PHASE2 form their own group; trials without
a phase form the group NONE). With fewer than 5 peers the whole graph is the peer group, and the page says so.

**(a) Enrollment, 25 points.** A target (the record's count is anticipated, or its type not stated) against the
peers' counts, by percentile band (a smaller target is easier to fill): up to P25 → 25, P25-P50 → 20, P50-P75 → 15,
P75-P90 → 10, above P90 → 5. An actual count (what the trial enrolled) against the peers' median:
25 x min(1, count / median). A count of 0 → 0. No count → 10.

**(b) Timeline, 35 points**, minus deductions (never below 0), for a trial still under way (``ONGOING``): lateness,
whole months past its latest estimated primary completion or completion (for NOT_YET_RECRUITING also its start):
under 2 → -5, 2 or more → -10, 12 or more → -20, 24 or more → -30; status last verified 12 or more months ago → -5,
24 or more → -10, 36 or more → -15. For every trial: duration (start → primary completion) over 1.25 x the peers'
median -5, over 2 x -10; no start or no completion date -10. Dates without a type are "not stated": never late;
registry dates (submitted, posted, updated, verified) are never milestones.
With a recorded history (``kg update``'s change events) it also counts the slips of primary completion (how many,
months in all): reported in its value and explanation, not scored.

**(c) Geographic reach, 20 points.** Countries: 1 → 5, 2-4 → 8, 5 or more → 10. Sites: for a trial that is
recruiting (RECRUITING, ENROLLING_BY_INVITATION) its *active* sites, those whose own status is RECRUITING; for
any other trial all its sites: 1 → 5, 2-9 → 8, 10 or more → 10.

**(d) Overall status, 20 points**: see ``STATUS_POINTS``.

**Label.** A finished trial is labelled as finished (COMPLETED → Completed, TERMINATED and WITHDRAWN → Stopped). Any
other gets the label of its score (70 and above On Track, 50-69 Needs Attention, 30-49 At Risk, below 30 Off Track),
lowered to a cap where a fact rules a better one out: lateness (2 months or more → at best Needs Attention, 12 → At
Risk, 24 → Off Track), a stale verification (12 months or more → Needs Attention, 24 → At Risk), SUSPENDED or
UNKNOWN (At Risk).
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from kg.analysis.answers import answer
from kg.analysis.saved_index import SavedIndex
from kg.analysis.timeline import Timeline, months_between, parse_date, round_half_up, timeline_of_rows
from kg.analysis.trial_facts import HealthInputs, TrialFacts, health_inputs
from kg.queries import QueryError, load_query, select_many, trial_terms
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
    "Peers",
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
    "UNKNOWN": 0,  # the registry itself lost track: no verification for two years past the expected completion
    "SUSPENDED": 5,
    "TEMPORARILY_NOT_AVAILABLE": 5,
    "NO_LONGER_AVAILABLE": 5,
    "WITHHELD": 5,
    "TERMINATED": 0,
    "WITHDRAWN": 0,
}
RECRUITING: Final = frozenset({"RECRUITING", "ENROLLING_BY_INVITATION"})
#: Statuses of a trial still under way (as far as the registry knows): lateness and a stale verification count.
ONGOING: Final = frozenset(
    {"RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING", "NOT_YET_RECRUITING", "SUSPENDED", "UNKNOWN"}
)
LABELS: Final = ((70, "On Track"), (50, "Needs Attention"), (30, "At Risk"), (0, "Off Track"))
_RANK: Final = {name: rank for rank, (_, name) in enumerate(LABELS)}
STATUS_LABELS: Final = {"COMPLETED": "Completed", "TERMINATED": "Stopped", "WITHDRAWN": "Stopped"}
#: (months late or since verification at least: deduction, the best label left); the first that applies counts. A
#: sponsor must update the status and the completion dates within 30 days of a change and verify the record every
#: 12 months (42 CFR 11.64): a month late is the registry's lag, two are not.
LATENESS: Final = ((24, 30, "Off Track"), (12, 20, "At Risk"), (2, 10, "Needs Attention"), (0, 5, None))
STALENESS: Final = ((36, 15, "At Risk"), (24, 10, "At Risk"), (12, 5, "Needs Attention"))
STATUS_CAPS: Final = {"SUSPENDED": "At Risk", "UNKNOWN": "At Risk"}
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
    status: str | None = None
    #: Why the label is worse than the score's: the facts that lowered it (empty when none did).
    caps: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in STATUS_LABELS

    def achieved(self) -> dict[str, Any] | None:
        """For a finished trial, what it achieved: enrollment against its peers' median, duration against theirs."""
        if not self.finished:
            return None
        enrollment, timing = self.components["enrollment"].value, self.components["timeline"].value
        return {
            "status": self.status,
            "enrollment": enrollment.get("count"),
            "enrollment_type": enrollment.get("count_type"),
            "enrollment_to_median": enrollment.get("count_to_median"),
            "duration_days": timing.get("planned_duration_days"),
            "duration_type": timing.get("duration_type"),
            "duration_to_median": timing.get("duration_ratio"),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "nct_id": self.nct_id,
            "score": self.score,
            "label": self.label,
            "caps": self.caps,
            "achieved": self.achieved(),
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
class Peers:
    """One peer group's values, sorted once when the distributions are read: a band, a median or a rank is then a
    few lookups, not a sort of up to 600k values for every trial a page shows."""

    values: tuple[int, ...]

    @classmethod
    def of(cls, values: Iterable[int]) -> Peers:
        return cls(tuple(sorted(values)))

    def __len__(self) -> int:
        return len(self.values)

    def quantile(self, percent: int) -> float:
        """The cut at ``percent`` (1-99), as ``statistics.quantiles(values, n=100, method="inclusive")`` has it
        (linear interpolation; at least two values)."""
        low, share = divmod(percent * (len(self.values) - 1), 100)
        return (self.values[low] * (100 - share) + self.values[low + 1] * share) / 100

    def median(self) -> float:
        """As ``statistics.median``: the middle value, or the mean of the two middle ones."""
        middle = len(self.values) // 2
        if len(self.values) % 2:
            return self.values[middle]
        return (self.values[middle - 1] + self.values[middle]) / 2

    def rank(self, value: float) -> float:
        """The share of values at or below ``value``, in percent."""
        return 100 * bisect.bisect_right(self.values, value) / len(self.values)


#: The key of the group of all trials, whatever their phase (for a phase with fewer than ``MIN_PEERS`` trials).
EVERY_PHASE: Final = "*"


@dataclass(frozen=True)
class PeerGroups:
    """Per phase group (and :data:`EVERY_PHASE`): every trial's enrollment count and planned duration in days (start
    → primary completion)."""

    fingerprint: str
    enrollments: dict[str, Peers] = field(default_factory=dict)
    durations: dict[str, Peers] = field(default_factory=dict)


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
    """The peer distributions: the rows of ``phase_peers`` (from the fact table on an embedded store: 0.6 s at 600k
    trials against 75 s for the SPARQL)."""
    fingerprint = HEALTH_PEERS_INDEX.fingerprint(store)
    enrollments: dict[str, list[int]] = defaultdict(list)
    durations: dict[str, list[int]] = defaultdict(list)
    for row in answer(store, "phase_peers").rows:
        phase = str(row["phase"])
        if isinstance(row["enrollment"], int):
            enrollments[phase].append(row["enrollment"])
        days = _days(row["start"], row["primary_completion"])
        if days is not None and days > 0:
            durations[phase].append(days)
    return PeerGroups(fingerprint, _grouped(enrollments), _grouped(durations))


def _grouped(values: Mapping[str, list[int]]) -> dict[str, Peers]:
    """Each phase's values and everyone's, sorted."""
    everyone = [value for items in values.values() for value in items]
    return {phase: Peers.of(items) for phase, items in values.items()} | {EVERY_PHASE: Peers.of(everyone)}


#: Its rows come from the landscape fact table (``phase_peers``), hence ``needs``.
HEALTH_PEERS_INDEX: Final = SavedIndex("health-peers", PeerGroups, 2, read_peer_groups, needs=("landscape",))


def _days(start: object, end: object) -> int | None:
    first, last = parse_date(str(start or "")), parse_date(str(end or ""))
    return None if first is None or last is None else (last - first).days


def percentile_band(value: float, peers: Peers) -> Band:
    """The band of ``value`` among ``peers`` (at least two); a band includes its upper cut (the median is P25-P50)."""
    cuts = {f"P{percent}": peers.quantile(percent) for percent, _ in BANDS[1:]}
    lower, points = BANDS[0]
    for percent, band_points in BANDS[1:]:
        if value > cuts[f"P{percent}"]:
            lower, points = percent, band_points
    uppers = [percent for percent, _ in BANDS if percent > lower]
    label = f"P{lower}-P{uppers[0]}" if uppers else f"P{lower}-P100"
    return Band(label, lower, points, cuts, round(peers.rank(value), 1))


def _peers(groups: Mapping[str, Peers], phase: str) -> tuple[Peers, str]:
    values = groups.get(phase, Peers(()))
    if len(values) >= MIN_PEERS:
        return values, f"for {phase_label(phase)}"
    return groups.get(EVERY_PHASE, Peers(())), f"for all trials (fewer than {MIN_PEERS} with {phase_label(phase)})"


def health_score(store: Store, nct_id: str, *, as_of: date | None = None) -> Health:
    """The health of one trial on ``as_of`` (default: today); raises QueryError when the store has no such trial."""
    return next(iter(health_scores(store, [nct_id], as_of=as_of).values()))


def health_scores(
    store: Store, nct_ids: Iterable[str], *, as_of: date | None = None, facts: TrialFacts | None = None
) -> dict[str, Health]:
    """NCT id (normalised, in the order given) → health on ``as_of``, for many trials with one query per kind of
    fact (summary, dates, sites, history), so a page showing hundreds of trials pays a handful of queries, not
    hundreds; none with ``facts`` (:mod:`kg.analysis.trial_facts`), for the whole registry."""
    terms = trial_terms("trial_summary", nct_ids)
    if facts is not None:
        summaries = facts.summaries(terms)
    else:
        summaries = select_many(store, load_query("trial_summary").text, "nct", list(terms.values()))
    missing = [nct for nct, rows in summaries.items() if not rows]
    if missing:
        raise QueryError(f"no trial {', '.join(missing)} in the store {store.spec}")
    summary_rows = {nct: rows[0] for nct, rows in summaries.items()}
    return summary_health(store, summary_rows, as_of=as_of, facts=facts)


def summary_health(
    store: Store,
    summaries: Mapping[str, Mapping[str, Value]],
    *,
    as_of: date | None = None,
    facts: TrialFacts | None = None,
) -> dict[str, Health]:
    """:func:`health_scores` for trials whose ``trial_summary`` rows the caller has read already (NCT id → row);
    their other inputs from ``facts`` when given (a page of many trials), else from the queries."""
    day = as_of or date.today()
    groups = peer_groups(store)
    ncts = list(summaries)
    inputs = facts.health_inputs(ncts) if facts is not None else health_inputs(store, ncts)
    return {nct: _health(summary, inputs[nct], day, groups) for nct, summary in summaries.items()}


def _health(summary: Mapping[str, Value], inputs: HealthInputs, day: date, groups: PeerGroups) -> Health:
    dates = timeline_of_rows(str(summary["nct"]), inputs.dates, day)
    status = str(summary["status"]) if summary["status"] else None
    phase = str(summary["phases"] or "NONE")
    estimated = summary.get("enrollment_estimated")
    components = {
        "enrollment": _enrollment(
            summary["enrollment"], estimated if isinstance(estimated, bool) else None, phase, groups
        ),
        "timeline": _timeline(dates, status, phase, groups, inputs),
        "reach": _reach(int(summary["countries"] or 0), inputs, status),
        "status": _status(status),
    }
    score = sum(component.points for component in components.values())
    by_score = next(name for floor, name in LABELS if score >= floor)
    caps = [] if status in STATUS_LABELS else _caps(status, components["timeline"].value)
    binding = [(cap, reason) for cap, reason in caps if _RANK[cap] > _RANK[by_score]]  # those that lower the label
    label = max((cap for cap, _ in binding), key=_RANK.__getitem__, default=by_score)
    label = STATUS_LABELS.get(status or "", label)
    reasons = [f"{reason}: at best {cap} (the score alone says {by_score})" for cap, reason in binding]
    return Health(dates.nct_id, dates.as_of, score, label, components, dates, status, reasons)


def _caps(status: str | None, timing: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The labels a trial's facts leave it at best, each with its reason."""
    caps: list[tuple[str, str]] = []
    if status in STATUS_CAPS:
        caps.append((STATUS_CAPS[status], f"overall status: {ENUMERATIONS['status'].get(status, status)}"))
    late, verified = timing.get("months_late", 0), timing.get("verified_months_ago")
    if timing.get("late_milestone") is not None:
        cap = _step(late, LATENESS)
        if cap is not None and cap[1] is not None:
            caps.append((cap[1], f"{late} months past its estimated {timing['late_milestone']}"))
    if verified is not None and status in ONGOING:
        cap = _step(verified, STALENESS)
        if cap is not None and cap[1] is not None:
            caps.append((cap[1], f"status last verified {verified} months ago"))
    return caps


def _step(months: int, steps: tuple[tuple[int, int, str | None], ...]) -> tuple[int, str | None] | None:
    """(deduction, best label) of the first step ``months`` reaches, or None."""
    return next(((deduction, cap) for least, deduction, cap in steps if months >= least), None)


def _enrollment(count: object, estimated: bool | None, phase: str, groups: PeerGroups) -> Component:
    peers, scope = _peers(groups.enrollments, phase)
    maximum = MAX_POINTS["enrollment"]
    kind = {True: "anticipated", False: "actual", None: "not stated"}[estimated]
    if not isinstance(count, int):
        return Component(
            {"target": None, "count": None, "phase": phase},
            NO_ENROLLMENT_POINTS,
            maximum,
            "No enrollment count in the record.",
        )
    value: dict[str, Any] = {"target": count, "count": count, "count_type": kind, "phase": phase, "scope": scope}
    if count <= 0:
        what = "Enrolled no participant" if estimated is False else "A target of 0 participants"
        return Component(value, 0, maximum, f"{what}: 0 of {maximum} points.")
    if len(peers) < 2:
        return Component(value, NO_ENROLLMENT_POINTS, maximum, "Too few trials to compare.")
    band = percentile_band(count, peers)
    value |= {"band": band.label, "percentile_rank": band.rank, "percentiles": band.cuts, "peers": len(peers)}
    median = band.cuts["P50"]
    value["count_to_median"] = round(count / median, 2) if median else None
    if estimated is False:  # what the trial enrolled: achieved against what its peers count
        points = round_half_up(maximum * min(1.0, count / median)) if median else maximum
        explanation = (
            f"Enrolled {count} participants (actual), {count / median:.0%} of the median {median:g} {scope} "
            f"({len(peers)} trials): {points} of {maximum} points."
            if median
            else f"Enrolled {count} participants (actual): {points} of {maximum} points."
        )
        return Component(value, points, maximum, explanation)
    typed = "" if estimated else " (type not stated)"
    explanation = (
        f"Target of {count} participants{typed} at {band.label} {scope} ({len(peers)} trials; "
        f"median {median:g}): {band.points} of {maximum} points."
    )
    return Component(value, band.points, maximum, explanation)


def _lateness(dates: Timeline, status: str | None) -> tuple[int, str | None]:
    """Months past the latest estimated date a trial under way should have reached (0 when none), and which."""
    if status not in ONGOING:
        return 0, None
    keys = ("primary_completion", "study_completion") + (("study_start",) if status == "NOT_YET_RECRUITING" else ())
    late = [
        (months_between(item.day, dates.as_of), item.info.label)
        for item in dates.milestones
        if item.info.key in keys and item.state == "overdue"
    ]
    return max(late, default=(0, None))


def _slips(inputs: HealthInputs) -> tuple[dict[str, Any], str]:
    """How often and by how many months primary completion moved later in the recorded history, and the sentence
    that says so (nothing without history: a trial never updated since the first build has none)."""
    if not inputs.changes:
        return {}, ""
    months = inputs.slips
    value = {"primary_completion_slips": len(months), "primary_completion_slip_months": sum(months)}
    if not months:
        return value, f" History: {inputs.changes} recorded change(s), no slip of primary completion."
    times = "once" if len(months) == 1 else f"{len(months)} times"
    return value, f" History: primary completion slipped {times}, {sum(months)} months in all (not scored)."


def _timeline(dates: Timeline, status: str | None, phase: str, groups: PeerGroups, inputs: HealthInputs) -> Component:
    maximum = MAX_POINTS["timeline"]
    deductions: list[tuple[int, str]] = []
    past = [
        item.info.label
        for item in dates.milestones
        if item.info.key in ("study_start", "primary_completion", "study_completion") and item.state == "overdue"
    ]
    late, late_milestone = _lateness(dates, status)
    lateness = _step(late, LATENESS) if late_milestone is not None else None  # an overdue date: 0 months or more
    if lateness is not None:
        deductions.append((lateness[0], f"{late} months past its estimated {late_milestone}"))
    verified = dates.milestone("status_verified")
    verified_months = months_between(verified.day, dates.as_of) if verified is not None else None
    staleness = _step(verified_months, STALENESS) if verified_months is not None and status in ONGOING else None
    stale = staleness is not None
    if staleness is not None:
        deductions.append((staleness[0], f"status last verified {verified_months} months ago"))
    planned = dates.period_days if dates.period_start and dates.milestone("primary_completion") else None
    primary = dates.milestone("primary_completion")
    duration_type = "actual" if primary is not None and primary.state == "completed" else "planned"
    peers, scope = _peers(groups.durations, phase)
    median = peers.median() if peers else None
    ratio = planned / median if planned is not None and median else None
    if ratio is not None and ratio > 2:
        deductions.append((10, f"{duration_type} duration {ratio:.1f}x the median {scope}"))
    elif ratio is not None and ratio > 1.25:
        deductions.append((5, f"{duration_type} duration {ratio:.1f}x the median {scope}"))
    if dates.period_start is None or dates.period_end is None:
        deductions.append((10, "no start or completion date"))
    points = max(0, maximum - sum(amount for amount, _ in deductions))
    value = {
        "months_left": dates.months_left,
        "elapsed_share": None if dates.elapsed_share is None else round(dates.elapsed_share, 4),
        "progress_percent": dates.progress_percent,
        "started": dates.period_start.isoformat() if dates.period_start else None,
        "planned_duration_days": planned,
        "duration_type": duration_type,
        "median_duration_days": median,
        "duration_ratio": None if ratio is None else round(ratio, 2),
        "scope": scope,
        "estimated_dates_past": past,
        "months_late": late if late_milestone is not None else 0,
        "late_milestone": late_milestone,
        "status_verified": verified.recorded if verified else None,
        "verified_months_ago": verified_months,
        "status_verified_stale": stale,
    }
    slips, sentence = _slips(inputs)
    reasons = "; ".join(f"{text} (-{amount})" for amount, text in deductions) or "no deductions"
    return Component(value | slips, points, maximum, f"{reasons}: {points} of {maximum} points.{sentence}")


def _reach(countries: int, inputs: HealthInputs, status: str | None) -> Component:
    maximum = MAX_POINTS["reach"]
    active = inputs.recruiting_sites
    counted = active if status in RECRUITING else inputs.sites
    country_points = _steps(countries, ((5, 10), (2, 8), (1, 5)))
    site_points = _steps(counted, ((10, 10), (2, 8), (1, 5)))
    which = ("active site" if status in RECRUITING else "site") + ("" if counted == 1 else "s")
    value = {"countries": countries, "sites": inputs.sites, "active_sites": active}
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
