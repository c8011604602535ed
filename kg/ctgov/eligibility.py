"""Eligibility text → inclusion and exclusion criteria, and ages → years."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

__all__ = ["age_in_years", "split_criteria"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Year|Month|Week|Day|Hour|Minute)s?\s*$", re.IGNORECASE)
_AGE_UNIT_YEARS: Final = {
    "year": 1.0,
    "month": 1 / 12,
    "week": 7 / 365.25,
    "day": 1 / 365.25,
    "hour": 1 / 8766,
    "minute": 1 / 525960,
}
_CRITERIA_HEADING = re.compile(r"^\s*(inclusion|exclusion)\s+criteria\s*:?\s*$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[*\-•]|\d+[.)])\s+")


def split_criteria(text: str) -> Iterator[tuple[str, int, str]]:
    """Split eligibility text into ``(inclusion|exclusion, position, item)``, following its headings.

    Bulleted lines start a new item; indented or wrapped lines continue the previous one, so nested
    sub-bullets stay with their parent criterion.
    """
    kind: str | None = None
    counters = {"inclusion": 0, "exclusion": 0}
    current: list[str] = []

    def flush() -> Iterator[tuple[str, int, str]]:
        if kind and current:
            counters[kind] += 1
            yield kind, counters[kind], " ".join(current)
        current.clear()

    for line in text.splitlines():
        heading = _CRITERIA_HEADING.match(line)
        if heading:
            yield from flush()
            kind = heading.group(1).lower()
            continue
        stripped = line.strip()
        if not stripped or kind is None:
            continue
        is_top_bullet = _BULLET.match(line) is not None and (len(line) - len(line.lstrip())) < 2
        if is_top_bullet:
            yield from flush()
            current.append(_BULLET.sub("", line, count=1).strip())
        else:
            current.append(_BULLET.sub("", stripped, count=1) if current else stripped)
    yield from flush()


def age_in_years(text: str) -> float | None:
    """``"18 Years"`` → 18.0, ``"6 Months"`` → 0.5; None for anything else."""
    match = _AGE.match(text)
    if match is None:
        return None
    return float(match.group(1)) * _AGE_UNIT_YEARS[match.group(2).lower()]
