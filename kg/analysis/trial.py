"""Everything the store knows about one trial, gathered by named queries into one dictionary."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from kg.analysis.changes import trial_history
from kg.analysis.health import health_score
from kg.analysis.hierarchy import trial_hierarchy
from kg.analysis.results import trial_results
from kg.queries import QueryError, run
from kg.store import Store

__all__ = ["trial_json", "trial_summary"]


def trial_summary(store: Store, nct_id: str) -> dict[str, Any]:
    """Identification, status, design and size (``trial_summary``), parts (``trial_parts``) and MeSH
    terms (``trial_mesh``) of one trial; raises QueryError when the store has no such trial."""
    params = {"nct": nct_id}
    rows = run(store, "trial_summary", params).rows
    if not rows:
        raise QueryError(f"no trial {nct_id.strip().upper()} in the store {store.spec}")
    summary: dict[str, Any] = dict(rows[0])
    parts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in run(store, "trial_parts", params).rows:
        parts[str(row["part"])].append({"label": row["label"], "detail": row["detail"]})
    summary["parts"] = dict(parts)
    mesh: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in run(store, "trial_mesh", params).rows:
        mesh[str(row["role"])].append({"id": row["mesh_id"], "term": row["term"]})
    summary["mesh"] = dict(mesh)
    summary["hierarchy"] = trial_hierarchy(store, nct_id)
    return summary


def trial_json(store: Store, nct_id: str, *, as_of: date | None = None) -> dict[str, Any]:
    """The summary with the health score, timeline, results and change history (``history``: the change feed's
    rows, oldest first) on ``as_of`` (default: today): what ``kg trial --format json`` prints and ``Graph.trial``
    returns, so both always agree."""
    summary = trial_summary(store, nct_id)
    health = health_score(store, nct_id, as_of=as_of)
    return {
        **summary,
        "health": health.to_json(),
        "timeline": health.timeline.to_json(),
        "results": trial_results(store, nct_id),
        "history": [change.to_json() for change in trial_history(store, nct_id)],
    }
