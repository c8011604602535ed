"""A landscape as a self-contained offline HTML report (plotly figures, its script inlined once) plus one CSV per table.

Every string from the records (sponsor names, stop reasons, labels) is escaped: by Jinja's autoescape in the page,
and as HTML entities inside figures, since plotly.js reads a few tags (``<b>``, ``<a href>``) in its text.
"""

from __future__ import annotations

import csv
import html
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import plotly.graph_objects as go
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from kg.analysis.landscape import RECENT_DAYS, Landscape
from kg.atomic import ensure_folder, replacing, write_atomic
from kg.views.jinja import environment
from kg.vocab import ENUMERATIONS

__all__ = ["render_report", "write_csvs", "write_report"]

_PHASE_ORDER: Final = ("EARLY_PHASE1", "PHASE1", "PHASE1/PHASE2", "PHASE2", "PHASE2/PHASE3", "PHASE3", "PHASE4", "NA")
_STATUS_ORDER: Final = tuple(ENUMERATIONS["status"])
_LAYOUT: Final[dict[str, Any]] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
    "height": 380,
    "font": {"family": "system-ui, sans-serif", "size": 12},
}
_CONFIG: Final = {"displaylogo": False, "responsive": True}
#: Serious adverse events the page lists (the CSV has every one).
TOP_EVENTS: Final = 25
#: Recent changes listed on the page (all of them in the CSV).
RECENT_ROWS: Final = 50


def _text(value: object) -> str:
    """Record text as plotly shows it literally: entities for ``<``, ``>``, ``&`` and quotes."""
    return html.escape(str(value))


def _phase_key(phase: str) -> tuple[int, str]:
    return (_PHASE_ORDER.index(phase) if phase in _PHASE_ORDER else len(_PHASE_ORDER), phase)


def _status_key(status: str) -> tuple[int, str]:
    return (_STATUS_ORDER.index(status) if status in _STATUS_ORDER else len(_STATUS_ORDER), status)


def _figure(data: Any) -> go.Figure:
    """A figure with the report's layout; figure-specific settings are applied after, so they win."""
    return go.Figure(data, layout=_LAYOUT)


def _html(figure: go.Figure, div_id: str) -> Markup:
    return Markup(figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG))


def _phase_status_figure(result: Landscape) -> go.Figure:
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in result.phase_status:
        counts[str(row["status"])][str(row["phase"])] = int(row["trials"])
    phases = sorted({str(row["phase"]) for row in result.phase_status}, key=_phase_key)
    figure = _figure(
        [
            go.Bar(name=_text(status), x=phases, y=[counts[status].get(phase, 0) for phase in phases])
            for status in sorted(counts, key=_status_key)
        ]
    )
    return figure.update_layout(barmode="stack", xaxis_title="phase", yaxis_title="trials", legend_title="status")


def _start_year_figure(result: Landscape) -> go.Figure:
    years = [row["year"] for row in result.start_years]
    estimated = [int(row["estimated_starts"]) for row in result.start_years]
    actual = [int(row["trials"]) - e for row, e in zip(result.start_years, estimated, strict=True)]
    figure = _figure(
        [go.Bar(name="actual start", x=years, y=actual), go.Bar(name="estimated start", x=years, y=estimated)]
    )
    return figure.update_layout(barmode="stack", xaxis_title="start year", yaxis_title="trials")


def _bar(rows: list[dict[str, Any]], label: str, title: str, *, horizontal: bool = False, top: int = 25) -> go.Figure:
    rows = rows[:top]
    labels = [_text(row[label]) for row in rows]
    values = [int(row["trials"]) for row in rows]
    if horizontal:
        figure = _figure(go.Bar(x=values[::-1], y=labels[::-1], orientation="h"))
        return figure.update_layout(
            xaxis_title="trials", height=max(300, 22 * len(rows) + 90), margin={"l": 20}, yaxis={"automargin": True}
        )
    return _figure(go.Bar(x=labels, y=values)).update_layout(xaxis_title=title, yaxis_title="trials")


def _enrollment_figure(result: Landscape) -> go.Figure:
    bins = result.enrollment.histogram
    figure = _figure(go.Bar(x=[row["bin"] for row in bins], y=[row["trials"] for row in bins]))
    return figure.update_layout(xaxis_title="participants (actual or anticipated)", yaxis_title="trials")


def _matrix_figure(result: Landscape) -> go.Figure:
    """A heatmap of children by intervention types; a menu switches between all phases and each phase."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for r in result.matrix:
        totals[(str(r["row_label"]), str(r["row"]))] += int(r["trials"])
    rows = sorted(totals, key=lambda key: (totals[key], key))  # plotly draws the first row at the bottom
    types = sorted({str(r["intervention_type"]) for r in result.matrix})
    phases = sorted({str(r["phase"]) for r in result.matrix}, key=_phase_key)

    def grid(phase: str | None) -> list[list[int]]:
        cells: dict[tuple[str, str], int] = defaultdict(int)
        for r in result.matrix:
            if phase is None or r["phase"] == phase:
                cells[(str(r["row"]), str(r["intervention_type"]))] += int(r["trials"])
        return [[cells[(row_id, kind)] for kind in types] for _label, row_id in rows]

    choices = [("all phases", None)] + [(phase, phase) for phase in phases]
    figure = _figure(
        go.Heatmap(
            z=grid(None),
            x=types,
            y=[_text(label) for label, _id in rows],
            colorscale="Blues",
            texttemplate="%{z}",
            hovertemplate="%{y}, %{x}: %{z} trials<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(320, 34 * len(rows) + 140),
        margin={"l": 20, "t": 60},
        yaxis={"automargin": True},
        updatemenus=[
            {
                "buttons": [
                    {"label": label, "method": "restyle", "args": [{"z": [grid(phase)]}]} for label, phase in choices
                ],
                "direction": "down",
                "x": 0,
                "xanchor": "left",
                "y": 1.15,
                "yanchor": "top",
            }
        ],
    )
    return figure


def _results_figure(result: Landscape) -> go.Figure:
    """Trials per overall status, with and without posted results."""
    counts: dict[str, dict[bool, int]] = defaultdict(lambda: {True: 0, False: 0})
    for row in result.results_counts:
        counts[str(row["status"])][bool(row["has_results"])] += int(row["trials"])
    statuses = sorted(counts, key=_status_key)
    figure = _figure(
        [
            go.Bar(name=name, x=statuses, y=[counts[status][posted] for status in statuses])
            for name, posted in (("results posted", True), ("no results", False))
        ]
    )
    return figure.update_layout(barmode="stack", xaxis_title="overall status", yaxis_title="trials")


def _organ_systems_figure(result: Landscape) -> go.Figure:
    """Trials listing a serious adverse event in each organ system; the hover gives participants and rate."""
    rows = result.serious_organ_systems[:TOP_EVENTS][::-1]
    figure = _figure(
        go.Bar(
            x=[int(row["trials"]) for row in rows],
            y=[_text(row["organ_system"] or "(not given)") for row in rows],
            orientation="h",
            customdata=[[row["affected"], row["at_risk"]] for row in rows],
            hovertemplate="%{y}: %{x} trials, %{customdata[0]} of %{customdata[1]} participants<extra></extra>",
        )
    )
    return figure.update_layout(
        xaxis_title="trials listing a serious adverse event",
        height=max(300, 22 * len(rows) + 90),
        margin={"l": 20},
        yaxis={"automargin": True},
    )


def _figures(result: Landscape) -> dict[str, Markup]:
    figures = {
        "phase_status": _phase_status_figure(result),
        "start_years": _start_year_figure(result),
        "sponsor_classes": _bar(result.sponsor_classes, "sponsor_class", "lead sponsor class"),
        "top_sponsors": _bar(result.top_sponsors, "sponsor", "lead sponsor", horizontal=True),
        "countries": _bar(result.countries, "country", "country", horizontal=True),
        "enrollment": _enrollment_figure(result),
        "results": _results_figure(result),
    }
    if result.serious_organ_systems:
        figures["organ_systems"] = _organ_systems_figure(result)
    if result.matrix:
        figures["matrix"] = _matrix_figure(result)
    return {name: _html(figure, f"figure-{name}") for name, figure in figures.items()}


def render_report(result: Landscape, *, store: str = "", generated: str | None = None) -> str:
    """The report page as one string: plotly.js inlined once in the head, no external resource."""
    template = environment().get_template("landscape.html.j2")
    return template.render(
        landscape=result,
        scope=result.scope,
        figures=_figures(result),
        plotly_js=Markup(get_plotlyjs()),
        tables=result.tables(),
        top_events=TOP_EVENTS,
        recent_rows=RECENT_ROWS,
        recent_days=RECENT_DAYS,
        store=store,
        generated=generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_csvs(result: Landscape, directory: Path) -> list[Path]:
    """One CSV per table (``phase_status.csv`` …), columns in the order of the query's variables; each written
    whole."""
    paths = []
    for name, rows in result.tables().items():
        path = directory / f"{name}.csv"
        columns = list(dict.fromkeys(key for row in rows for key in row))
        with replacing(path) as partial, partial.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths


def write_report(result: Landscape, directory: Path, *, store: str = "") -> Path:
    """Write ``index.html`` and the CSVs into ``directory`` (created if needed); return the page's path. The page
    is rendered first, so a failure to render writes nothing."""
    page = render_report(result, store=store)
    write_csvs(result, ensure_folder(directory))
    return write_atomic(directory / "index.html", page)
