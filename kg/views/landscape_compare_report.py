"""Two landscapes compared as one offline HTML page (``kg landscape compare``) plus one CSV per compared table.

The same machinery as the landscape report (:mod:`kg.views.landscape_report`): plotly.js inlined once, record text
escaped. Each table's difference cells are shaded by the size of the share difference (green: A above B, red: A
below), so the largest gaps stand out at a glance.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import plotly.graph_objects as go
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from kg.analysis.landscape_compare import COMPARED, Comparison
from kg.atomic import ensure_folder, write_atomic
from kg.views.jinja import environment
from kg.views.landscape_report import (
    BENCHMARK_MEASURES,
    base_figure,
    benchmark_figure,
    figure_html,
    plot_text,
    write_tables,
)

__all__ = ["render_comparison", "shade", "write_comparison"]

#: Keys the chart of a long table (:data:`LONG_TABLES`) draws: those with most trials on both sides (all of them in
#: its table and CSV).
CHART_ROWS: Final = 20
LONG_TABLES: Final = ("countries", "mechanisms")
#: The titles of the compared tables, in the page's order.
TITLES: Final = {
    "phases": "Phase",
    "statuses": "Overall status",
    "sponsor_classes": "Lead sponsor class",
    "start_years": "Start year",
    "countries": "Countries (trials with a site there)",
    "mechanisms": "Pharmacological actions",
}


def shade(difference: float | None, largest: float) -> str:
    """An inline background for a difference cell: green above zero, red below, stronger for a larger gap."""
    if not difference or not largest:
        return ""
    alpha = round(0.15 + 0.6 * min(abs(difference) / largest, 1.0), 2)
    colour = "46, 125, 50" if difference > 0 else "198, 40, 40"
    return f"background: rgba({colour}, {alpha})"


def _label(row: dict[str, Any], columns: tuple[str, ...]) -> str:
    return " ".join(str(row[column]) for column in columns[-1:])  # the last key column names it (a label)


def _shares_figure(rows: list[dict[str, Any]], columns: tuple[str, ...], names: tuple[str, str]) -> go.Figure:
    """Each side's share of its scope per key, as grouped bars."""
    labels = [plot_text(_label(row, columns)) for row in rows]
    figure = base_figure(
        [
            go.Bar(
                name=plot_text(name),
                x=labels,
                y=[row[f"{side}_share"] for row in rows],
                customdata=[row[f"{side}_trials"] for row in rows],
                hovertemplate="%{x}: %{y:.1%} (%{customdata} trials)<extra>" + plot_text(name) + "</extra>",
            )
            for side, name in zip(("a", "b"), names, strict=True)
        ]
    )
    return figure.update_layout(barmode="group", yaxis_title="share of the scope's trials", yaxis_tickformat=".0%")


def render_comparison(comparison: Comparison, *, store: str = "", generated: str | None = None) -> str:
    """The comparison page as one string: plotly.js inlined once in the head, no external resource."""
    names = (f"A: {comparison.a.scope.describe()}", f"B: {comparison.b.scope.describe()}")
    figures = {
        name: figure_html(
            _shares_figure(
                comparison.tables[name][: CHART_ROWS if name in LONG_TABLES else None], COMPARED[name][0], names
            ),
            f"figure-{name}",
        )
        for name in TITLES
        if comparison.tables[name]
    }
    if comparison.tables["benchmarks"]:
        sides = (("a", "A"), ("b", "B"))
        figures["benchmarks"] = figure_html(
            benchmark_figure(comparison.tables["benchmarks"], sides), "figure-benchmarks"
        )
    largest = {
        name: max((abs(row.get("share_difference", row["difference"]) or 0) for row in rows), default=0)
        for name, rows in comparison.tables.items()
        if name != "benchmarks"
    }
    measures: dict[str, float] = {}  # benchmarks: a gap is large or small among its own measure's
    for row in comparison.tables["benchmarks"]:
        measures[row["measure"]] = max(measures.get(row["measure"], 0), abs(row["difference"] or 0))
    return (
        environment()
        .get_template("landscape_compare.html.j2")
        .render(
            comparison=comparison,
            names=names,
            titles=TITLES,
            keys={name: columns for name, (columns, _) in COMPARED.items()},
            figures=figures,
            largest=largest,
            largest_benchmark=measures,
            shade=shade,
            benchmark_measures=BENCHMARK_MEASURES,
            chart_rows=CHART_ROWS,
            long_tables=LONG_TABLES,
            plotly_js=Markup(get_plotlyjs()),
            store=store,
            generated=generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )


def write_comparison(comparison: Comparison, directory: Path, *, store: str = "") -> Path:
    """Write ``index.html`` and one CSV per compared table into ``directory``; return the page's path."""
    page = render_comparison(comparison, store=store)
    write_tables(comparison.tables, ensure_folder(directory))
    return write_atomic(directory / "index.html", page)
