"""The one Jinja environment every HTML page is rendered with: trial pages, explorer, landscape reports and the
server's pages.

Templates are read from the package (``kg/views/templates``), so an installed wheel renders what a checkout does.
Autoescape is on for every template, file or string: anyone can register a trial, so record text is hostile until
escaped. Record text is Markdown: the ``markdown`` (blocks), ``inline`` (titles, labels) and ``plain`` (no markup at
all, for ``<title>``) filters render it safely (:mod:`kg.views.markdown`). An undefined name renders empty: the trial
page shows whatever part of a record is there.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from jinja2 import Environment, PackageLoader

from kg.analysis.timeline import parse_date
from kg.views.markdown import markdown_block, markdown_inline, plain_text

__all__ = ["code_label", "environment", "long_date", "short_date"]


@cache
def environment() -> Environment:
    """The environment, built once, with the filters the templates use (``long_date``, ``short_date``, ``code``,
    ``markdown``, ``inline``, ``plain``)."""
    built = Environment(
        loader=PackageLoader("kg.views", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    built.filters.update(
        long_date=long_date,
        short_date=short_date,
        code=code_label,
        markdown=markdown_block,
        inline=markdown_inline,
        plain=plain_text,
    )
    return built


def long_date(text: object) -> str:
    """``2025-11-14`` → "November 14, 2025", ``2026-01`` → "January 2026", ``2026`` → "2026"."""
    value = str(text or "")
    day = parse_date(value)
    if day is None:
        return value
    parts = value.count("-")
    if parts == 2:
        return f"{day:%B} {day.day}, {day.year}"
    return f"{day:%B %Y}" if parts == 1 else str(day.year)


def short_date(day: date | None) -> str:
    return f"{day:%b %Y}" if day else ""


def code_label(code: object) -> str:
    """An enumeration code as people read it: ``SINGLE_GROUP`` → "single group", ``NA`` stays "NA"."""
    text = str(code or "")
    return text if len(text) <= 2 else text.replace("_", " ").lower()
