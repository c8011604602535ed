"""The trial page as one self-contained HTML file: every section of the reference trial page, for any trial.

Record text is hostile until escaped: the template autoescapes everything, renders record text (Markdown) through the
safe filters of :mod:`kg.views.markdown` and shows identifiers verbatim; the relationship explorer (a page of
its own, with scripts) is embedded as a sandboxed ``<iframe srcdoc>`` whose attribute value Jinja escapes, so it runs
in an opaque origin and cannot reach this page. A Content-Security-Policy forbids any network request; the only
external URLs are plain links: to clinicaltrials.gov, and the http(s) links the record's own text writes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any, Final

from kg.analysis.changes import trial_history
from kg.analysis.health import Health, health_score, phase_label
from kg.analysis.related import related
from kg.analysis.results import trial_results
from kg.analysis.timeline import DAYS_PER_MONTH, parse_date, round_half_up
from kg.analysis.trial import trial_summary
from kg.atomic import write_atomic
from kg.queries import run
from kg.store import Store
from kg.views.explorer import render_explorer
from kg.views.jinja import environment
from kg.vocab import ENUMERATIONS

__all__ = ["render_trial_page", "trial_explorer", "trial_page_data", "write_trial_page"]

logger = logging.getLogger(__name__)

#: Related trials listed beside the explorer, and the explorer's own reach.
RELATED_TOP: Final = 10
EXPLORER_DEPTH: Final = 2


def trial_explorer(store: Store, nct_id: str) -> str:
    """The explorer page the trial page embeds; a caller that also writes it as a page of its own (``kg demo``)
    renders it once and passes it on as ``explorer``."""
    return render_explorer(store, nct_id, depth=EXPLORER_DEPTH, top=RELATED_TOP)


def trial_page_data(
    store: Store, nct_id: str, *, as_of: date | None = None, explorer: str | None = None
) -> dict[str, Any]:
    """Everything the page shows, as plain values (raises QueryError when the store has no such trial).
    ``explorer``: this trial's :func:`trial_explorer`, if already rendered."""
    summary = trial_summary(store, nct_id)
    nct = str(summary["nct"])
    params = {"nct": nct}
    health = health_score(store, nct, as_of=as_of)
    eligibility: dict[str, list[Any]] = defaultdict(list)
    for row in run(store, "trial_eligibility", params).rows:
        eligibility[str(row["field"])].append(row["value"])
    outcomes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in run(store, "trial_outcomes", params).rows:
        outcomes[str(row["kind"])].append(row)
    return {
        "summary": summary,
        "phase": phase_label(str(summary["phases"] or "NONE")),
        "design": run(store, "trial_design", params).rows[0],
        "health": health,
        "cards": _cards(health),
        "timeline": health.timeline,
        "outcomes": dict(outcomes),
        "arms": _arms(run(store, "trial_arms", params).rows),
        "interventions": _interventions(run(store, "trial_interventions", params).rows),
        "eligibility": dict(eligibility),
        "sponsors": run(store, "trial_sponsors", params).rows,
        "sites": run(store, "trial_sites", params).rows,
        "results": trial_results(store, nct),
        "history": [change.to_json() for change in trial_history(store, nct)],
        "related": [neighbour.to_json() for neighbour in related(store, nct, RELATED_TOP)],
        "explorer": trial_explorer(store, nct) if explorer is None else explorer,
        "url": f"https://clinicaltrials.gov/study/{nct}",
    }


def render_trial_page(store: Store, nct_id: str, *, as_of: date | None = None, explorer: str | None = None) -> str:
    data = trial_page_data(store, nct_id, as_of=as_of, explorer=explorer)
    return environment().get_template("trial_page.html.j2").render(**data)


def write_trial_page(
    store: Store, nct_id: str, path: Path, *, as_of: date | None = None, explorer: str | None = None
) -> Path:
    """Write the page whole (through a ``.partial`` file, so a failure leaves no half page behind), its folder
    created if needed."""
    return write_atomic(path, render_trial_page(store, nct_id, as_of=as_of, explorer=explorer), parents=True)


def _arms(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per arm (the query gives one row per arm and intervention), with ``given``: "DRUG: name"."""
    arms: dict[Any, dict[str, Any]] = {}
    for row in rows:
        arm = arms.setdefault(row["position"], {**row, "given": []})
        if row["intervention_name"]:
            arm["given"].append(f"{row['intervention_type'] or 'OTHER'}: {row['intervention_name']}")
    return list(arms.values())


def _interventions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per intervention use in record order (the query gives one row per other name), with ``others``."""
    uses: dict[Any, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda row: (_position(row["use"]), str(row["other_name"] or ""))):
        use = uses.setdefault(row["use"], {**row, "others": []})
        if row["other_name"]:
            use["others"].append(row["other_name"])
    return list(uses.values())


def _position(iri: object) -> int:
    tail = str(iri).rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _cards(health: Health) -> dict[str, dict[str, str]]:
    """The four tiles at the top of the page, in the reference page's words."""
    enrollment = health.components["enrollment"].value
    timing = health.components["timeline"].value
    reach = health.components["reach"].value
    status = health.components["status"].value
    target = enrollment.get("target")
    actual = enrollment.get("count_type") == "actual"
    planned, median = timing.get("planned_duration_days"), timing.get("median_duration_days")
    months = timing.get("months_left")
    started = parse_date(str(timing.get("started") or ""))
    active = reach["active_sites"]
    return {
        "enrollment": {
            "big": "—" if target is None else f"{target:,}",
            "small": "participants enrolled" if actual else "participants targeted",
            "note": (
                f"{'Enrolled' if actual else 'Target'} at {enrollment['band']} {enrollment['scope']}"
                if "band" in enrollment
                else ""
            ),
        },
        "timeline": {
            "big": _time_left(months, timing, health.finished),
            "small": f"Started {started:%b %Y}" if started else "No start date",
            "note": (
                f"Planned {_months(planned)} vs typical {_months(median)} {timing['scope']}"
                if planned and median
                else f"Typical duration {timing['scope']}: {_months(median)}"
                if median
                else ""
            ),
        },
        "reach": {
            "big": f"{reach['countries']} countr{'y' if reach['countries'] == 1 else 'ies'}",
            "small": f"{active} active site{'' if active == 1 else 's'} of {reach['sites']}",
            "note": "",
        },
        "status": {
            "big": ENUMERATIONS["status"].get(status["status"] or "", "not given").lower(),
            "small": "overall status",
            "note": "",
        },
    }


def _time_left(months: int | None, timing: dict[str, object], finished: bool) -> str:
    """Months left; once past, "overdue" only for a trial under way whose end date is still an estimate."""
    if months is None:
        return "—"
    if months >= 0 and not finished:
        return f"{months}mo left"
    if timing.get("late_milestone") is not None:
        return f"{timing['months_late']}mo overdue"
    return "ended" if finished else f"{-months}mo past"


def _months(days: float | None) -> str:
    return "" if days is None else f"{round_half_up(days / DAYS_PER_MONTH)} months"
