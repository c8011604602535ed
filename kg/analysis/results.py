"""A trial's posted results as plain values: participant flow, baseline, outcome results with analyses, adverse
events, publications. What the trial page, ``kg trial`` and ``kg trial --format json`` show."""

from __future__ import annotations

from typing import Any

from kg.store import Store

__all__ = ["trial_results"]


def trial_results(store: Store, nct_id: str) -> dict[str, Any]:
    """Everything the results section and the references of ``nct_id`` hold, by named queries."""
    return {}
