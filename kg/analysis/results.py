"""A trial's posted results as plain values: participant flow, baseline, outcome results with analyses, adverse
events, publications. What the trial page, ``kg trial`` and ``kg trial --format json`` show."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Final

from kg.queries import bindings, load_query, run
from kg.store import Store, Value
from kg.vocab import PUBMED, SPARQL_PROLOGUE

__all__ = ["trial_results"]

Row = dict[str, Value]
#: NLM's page of an article; the trailing slash is the address PubMed itself links to.
PUBMED_PAGE: Final = "https://pubmed.ncbi.nlm.nih.gov/{pmid}/"


#: Does the trial have anything :func:`trial_results` shows? One lookup instead of seven queries for the many
#: trials that have neither results nor references.
_HAS_ANY: Final = (
    SPARQL_PROLOGUE
    + """SELECT ?part WHERE {
  ?trial dcterms:identifier ?nct ;
    kg:participantFlow|kg:baseline|kg:outcomeResult|kg:adverseEvents|kg:reference ?part .
} LIMIT 1"""
)


def trial_results(store: Store, nct_id: str) -> dict[str, Any]:
    """Everything the results section and the references of ``nct_id`` hold, by named queries; each part only when
    the record has it, so a trial with neither results nor references gives ``{}``."""
    params = {"nct": nct_id}
    if not store.select(_HAS_ANY, bindings(load_query("trial_publications"), params)).rows:
        return {}
    found = {
        "participant_flow": _participant_flow(run(store, "trial_participant_flow", params).rows),
        "baseline": _baseline(run(store, "trial_baseline", params).rows),
        "outcomes": _outcome_results(
            run(store, "trial_outcome_results", params).rows, run(store, "trial_outcome_analyses", params).rows
        ),
        "adverse_events": _adverse_events(run(store, "trial_adverse_events", params).rows),
        "publications": _publications(
            run(store, "trial_publications", params).rows, run(store, "trials_sharing_publication", params).rows
        ),
    }
    return {key: value for key, value in found.items() if value}


def _cell_text(value: Value, spread: Value = None, lower: Value = None, upper: Value = None) -> str:
    """A measurement as the registry prints it: ``55.1 (6.2)``, ``18.0 (1.0 to 30.0)``, ``43``; values verbatim."""
    text = "" if value is None else str(value)
    if spread is not None:
        return f"{text} ({spread})"
    if lower is not None or upper is not None:
        return f"{text} ({'' if lower is None else lower} to {'' if upper is None else upper})"
    return text


def _rate(affected: Value, at_risk: Value) -> float | None:
    """Share of participants affected (0 to 1); None when nobody was at risk or a count is missing."""
    if not isinstance(affected, int) or not isinstance(at_risk, int) or at_risk <= 0:
        return None
    return affected / at_risk


def _listed(joined: Value) -> list[str]:
    """The items of a GROUP_CONCAT column (" | " between them, as every named query joins lists)."""
    return [item for item in str(joined or "").split(" | ") if item]


def _groups(rows: Iterable[Row], **extra: str) -> list[dict[str, Value]]:
    """The distinct groups of ``rows`` in id order, with their title and ``extra`` columns (name → row key)."""
    groups: dict[str, dict[str, Value]] = {}
    for row in rows:
        group_id = str(row["group_id"])
        if group_id not in groups:
            groups[group_id] = {"id": group_id, "title": row["group_title"]}
            groups[group_id].update({name: row[key] for name, key in extra.items()})
    return [groups[group_id] for group_id in sorted(groups)]


# --- participant flow ---------------------------------------------------------------------------------


def _participant_flow(rows: list[Row]) -> dict[str, Any]:
    """Periods in order, each with its milestones and withdrawal reasons as participants per group."""
    if not rows:
        return {}
    periods: dict[Value, dict[str, Any]] = {}
    for row in rows:
        period = periods.setdefault(
            row["period_position"], {"title": row["period"], "milestones": {}, "withdrawals": {}}
        )
        steps = period["milestones" if row["kind"] == "milestone" else "withdrawals"]
        step = steps.setdefault(row["step_position"], {"label": row["step"], "counts": {}, "comments": {}})
        step["counts"][str(row["group_id"])] = row["participants"]
        if row["comment"]:
            step["comments"][str(row["group_id"])] = row["comment"]
    return {
        "recruitment_details": rows[0]["recruitment_details"],
        "pre_assignment_details": rows[0]["pre_assignment_details"],
        "groups": _groups(rows),
        "periods": [
            {
                "title": period["title"],
                "milestones": list(period["milestones"].values()),
                "withdrawals": list(period["withdrawals"].values()),
            }
            for period in periods.values()
        ],
    }


# --- baseline and outcome measures ----------------------------------------------------------------------


def _table(rows: list[Row]) -> list[dict[str, Any]]:
    """One measure's rows (class by category) with a cell per group: its verbatim values and the printed form."""
    table: dict[tuple[Value, Value], dict[str, Any]] = {}
    for row in rows:
        line = table.setdefault(
            (row["class_position"], row["category_position"]),
            {"class": row["class_title"], "category": row["category_title"], "cells": {}},
        )
        line["cells"][str(row["group_id"])] = {
            "value": row["value"],
            "spread": row["spread"],
            "lower_limit": row["lower_limit"],
            "upper_limit": row["upper_limit"],
            "text": _cell_text(row["value"], row["spread"], row["lower_limit"], row["upper_limit"]),
        }
    return list(table.values())


def _by(rows: Iterable[Row], key: str) -> dict[Value, list[Row]]:
    grouped: dict[Value, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


def _measure(rows: list[Row], title_key: str) -> dict[str, Any]:
    """What baseline and outcome measures share: title, parameter, dispersion, unit, groups with their
    denominators (the measure's, or its first class's), and the table."""
    first = rows[0]
    return {
        "title": first[title_key],
        "param_type": first["param_type"],
        "dispersion_type": first["dispersion_type"],
        "unit": first["unit"],
        "groups": _groups(rows, denominator="denominator"),
        "rows": _table(rows),
    }


def _baseline(rows: list[Row]) -> dict[str, Any]:
    """Baseline measures in order (age, sex, region…), each a table of groups (the total one of them)."""
    if not rows:
        return {}
    measures = [_measure(measure_rows, "measure") for measure_rows in _by(rows, "measure_position").values()]
    return {
        "population_description": rows[0]["population_description"],
        "groups": measures[0]["groups"],
        "measures": measures,
    }


def _outcome_results(rows: list[Row], analyses: list[Row]) -> list[dict[str, Any]]:
    """Posted outcome measures in order, each with its table and statistical analyses."""
    by_outcome = _by(analyses, "outcome_position")
    outcomes = []
    for position, outcome_rows in _by(rows, "outcome_position").items():
        measure = _measure(outcome_rows, "title")
        titles = {str(group["id"]): group["title"] for group in measure["groups"]}
        outcomes.append(
            {
                "position": position,
                "type": outcome_rows[0]["type"],
                "time_frame": outcome_rows[0]["time_frame"],
                **measure,
                "analyses": [_analysis(row, titles) for row in by_outcome.get(position, [])],
            }
        )
    return outcomes


def _analysis(row: Row, titles: dict[str, Value]) -> dict[str, Any]:
    """An analysis as the query gives it, the compared groups as lists of ids (sorted: SPARQL keeps no order) and
    of their titles."""
    found: dict[str, Any] = {
        key: value for key, value in row.items() if key not in ("outcome_position", "title", "group_ids", "groups")
    }
    found["group_ids"] = sorted(_listed(row["group_ids"]))
    found["groups"] = [titles.get(group_id) or group_id for group_id in found["group_ids"]]
    return found


# --- adverse events -------------------------------------------------------------------------------------


def _adverse_events(rows: list[Row]) -> dict[str, Any]:
    """Serious and other events by organ system, each with affected / at risk per group and its rate, and each
    group's totals."""
    if not rows:
        return {}
    groups = _groups(
        rows,
        deaths_affected="deaths_affected",
        deaths_at_risk="deaths_at_risk",
        serious_affected="serious_affected",
        serious_at_risk="serious_at_risk",
        other_affected="other_affected",
        other_at_risk="other_at_risk",
    )
    for group in groups:
        group["serious_rate"] = _rate(group["serious_affected"], group["serious_at_risk"])
        group["other_rate"] = _rate(group["other_affected"], group["other_at_risk"])
    return {
        "frequency_threshold": rows[0]["frequency_threshold"],
        "time_frame": rows[0]["time_frame"],
        "groups": groups,
        "serious": _by_organ_system([row for row in rows if row["kind"] == "serious"]),
        "other": _by_organ_system([row for row in rows if row["kind"] == "other"]),
    }


def _by_organ_system(rows: list[Row]) -> list[dict[str, Any]]:
    """Organ systems in order of first appearance, each with its events in record order."""
    systems: dict[Value, dict[Value, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        event = systems[row["organ_system"]].setdefault(
            row["event_position"],
            {
                "term": row["term"],
                "assessment_type": row["assessment_type"],
                "source_vocabulary": row["source_vocabulary"],
                "counts": {},
            },
        )
        event["counts"][str(row["group_id"])] = {
            "affected": row["num_affected"],
            "at_risk": row["num_at_risk"],
            "events": row["num_events"],
            "rate": _rate(row["num_affected"], row["num_at_risk"]),
        }
    return [{"organ_system": system, "events": list(events.values())} for system, events in systems.items()]


# --- publications ---------------------------------------------------------------------------------------


def _publications(rows: list[Row], sharing: list[Row]) -> list[dict[str, Any]]:
    """References in order with a PubMed link when the id is well formed, and the other trials citing each."""
    cited_by: dict[str, list[str]] = defaultdict(list)
    for row in sharing:
        for shared in _listed(row["pmids"]):
            cited_by[shared].append(str(row["nct_id"]))
    found = []
    for row in rows:
        # the article's IRI is there only for a well-formed id: it, not the id as written, makes the link
        pmid = str(row["pubmed"]).removeprefix(str(PUBMED)) if row["pubmed"] else None
        found.append(
            {
                "type": row["reference_type"],
                "citation": row["citation"],
                "pmid": row["pmid"],
                "url": PUBMED_PAGE.format(pmid=pmid) if pmid else None,
                "other_trials": row["other_trials"],
                "cited_by": sorted(cited_by.get(pmid, [])) if pmid else [],
            }
        )
    return found
