"""The vocabulary of change events, apart from kg.vocab so that ``kg --help`` can list it without loading the RDF
engine."""

from __future__ import annotations

from typing import Final

__all__ = ["CHANGE_FIELDS"]

#: The fields of change events (``kg:changedField``, recorded by kg/pipeline/changes.py, read by ``kg changes``;
#: documented in ontologies/README.md).
CHANGE_FIELDS: Final = (
    "added",
    "removed",
    "overall_status",
    "enrollment",
    "enrollment_type",
    "start",
    "primary_completion",
    "completion",
    "start_type",
    "primary_completion_type",
    "completion_type",
    "phases",
    "sites",
    "site_status",
    "results_posted",
    "why_stopped",
)
