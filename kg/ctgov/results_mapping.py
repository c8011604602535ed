"""The results section of an API v2 record → the trial's result nodes (groups, flow, baseline, outcome
measures with analyses, adverse events, more information)."""

from __future__ import annotations

from kg.ctgov.emitter import Emitter
from kg.ctgov.record import RecordNode

__all__ = ["map_results"]


def map_results(emit: Emitter, section: RecordNode) -> None:
    """Everything ``resultsSection`` holds, as parts of ``emit``'s trial."""
