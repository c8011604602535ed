"""A trial's results, adverse events and publications in the terminal (part of ``kg trial``)."""

from __future__ import annotations

from typing import Any

__all__ = ["print_results"]


def print_results(results: dict[str, Any]) -> None:
    """Record text is printed as plain Text: markup in it stays text."""
