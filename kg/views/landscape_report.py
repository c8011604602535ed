"""A landscape as a self-contained offline HTML report (plotly figures, its script inlined once) plus one CSV per table.

Every string from the records (sponsor names, stop reasons, labels) is escaped: by Jinja's autoescape in the page,
and as HTML entities inside figures, since plotly.js reads a few tags (``<b>``, ``<a href>``) in its text.
"""

from __future__ import annotations

import csv
import html
from collections import defaultdict
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Final

import plotly.graph_objects as go
from markupsafe import Markup
from plotly.colors import qualitative
from plotly.offline import get_plotlyjs

from kg.analysis.landscape import PIPELINE_PHASES, RECENT_DAYS, Landscape
from kg.atomic import ensure_folder, replacing, write_atomic
from kg.views.jinja import environment
from kg.vocab import ENUMERATIONS

__all__ = [
    "BENCHMARK_MEASURES",
    "base_figure",
    "benchmark_figure",
    "figure_html",
    "plot_text",
    "render_report",
    "write_csvs",
    "write_report",
    "write_tables",
]

_PHASE_ORDER: Final = ("EARLY_PHASE1", "PHASE1", "PHASE1/PHASE2", "PHASE2", "PHASE2/PHASE3", "PHASE3", "PHASE4", "NA")
_STATUS_ORDER: Final = tuple(ENUMERATIONS["status"])
#: A phase's colour in the portfolios (by its place in _PHASE_ORDER, then NONE and others).
_PHASE_COLOURS: Final = qualitative.Plotly
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
#: Drugs the pipeline chart draws and its table lists (all of them in the CSV).
PIPELINE_ROWS: Final = 40
#: Indications a portfolio chart draws (all of them in its table and the CSV).
PORTFOLIO_ROWS: Final = 25


def plot_text(value: object) -> str:
    """Record text as plotly shows it literally: entities for ``<``, ``>``, ``&`` and quotes."""
    return html.escape(str(value))


def _phase_key(phase: str) -> tuple[int, str]:
    return (_PHASE_ORDER.index(phase) if phase in _PHASE_ORDER else len(_PHASE_ORDER), phase)


def _status_key(status: str) -> tuple[int, str]:
    return (_STATUS_ORDER.index(status) if status in _STATUS_ORDER else len(_STATUS_ORDER), status)


def base_figure(data: Any) -> go.Figure:
    """A figure with the report's layout; figure-specific settings are applied after, so they win."""
    return go.Figure(data, layout=_LAYOUT)


def figure_html(figure: go.Figure, div_id: str) -> Markup:
    return Markup(figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG))


def _phase_status_figure(result: Landscape) -> go.Figure:
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in result.phase_status:
        counts[str(row["status"])][str(row["phase"])] = int(row["trials"])
    phases = sorted({str(row["phase"]) for row in result.phase_status}, key=_phase_key)
    figure = base_figure(
        [
            go.Bar(name=plot_text(status), x=phases, y=[counts[status].get(phase, 0) for phase in phases])
            for status in sorted(counts, key=_status_key)
        ]
    )
    return figure.update_layout(barmode="stack", xaxis_title="phase", yaxis_title="trials", legend_title="status")


def _start_year_figure(result: Landscape) -> go.Figure:
    years = [row["year"] for row in result.start_years]
    estimated = [int(row["estimated_starts"]) for row in result.start_years]
    actual = [int(row["trials"]) - e for row, e in zip(result.start_years, estimated, strict=True)]
    figure = base_figure(
        [go.Bar(name="actual start", x=years, y=actual), go.Bar(name="estimated start", x=years, y=estimated)]
    )
    return figure.update_layout(barmode="stack", xaxis_title="start year", yaxis_title="trials")


def _bar(rows: list[dict[str, Any]], label: str, title: str, *, horizontal: bool = False, top: int = 25) -> go.Figure:
    rows = rows[:top]
    labels = [plot_text(row[label]) for row in rows]
    values = [int(row["trials"]) for row in rows]
    if horizontal:
        figure = base_figure(go.Bar(x=values[::-1], y=labels[::-1], orientation="h"))
        return figure.update_layout(
            xaxis_title="trials", height=max(300, 22 * len(rows) + 90), margin={"l": 20}, yaxis={"automargin": True}
        )
    return base_figure(go.Bar(x=labels, y=values)).update_layout(xaxis_title=title, yaxis_title="trials")


def _enrollment_figure(result: Landscape) -> go.Figure:
    bins = result.enrollment.histogram
    figure = base_figure(go.Bar(x=[row["bin"] for row in bins], y=[row["trials"] for row in bins]))
    return figure.update_layout(xaxis_title="participants (actual or anticipated)", yaxis_title="trials")


def _matrix_figure(
    cells_by_phase: list[dict[str, Any]],
    column: str,
    columns: list[str] | None = None,
    labels: dict[str, str] | None = None,
) -> go.Figure:
    """A heatmap of children by ``column`` (in the order ``columns``, by default sorted; shown by ``labels``); a menu
    switches between all phases and each phase. A cell summed over phases is a sum over each trial's one phase."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for r in cells_by_phase:
        totals[(str(r["row_label"]), str(r["row"]))] += int(r["trials"])
    rows = sorted(totals, key=lambda key: (totals[key], key))  # plotly draws the first row at the bottom
    kinds = columns if columns is not None else sorted({str(r[column]) for r in cells_by_phase})
    phases = sorted({str(r["phase"]) for r in cells_by_phase}, key=_phase_key)

    def grid(phase: str | None) -> list[list[int]]:
        cells: dict[tuple[str, str], int] = defaultdict(int)
        for r in cells_by_phase:
            if phase is None or r["phase"] == phase:
                cells[(str(r["row"]), str(r[column]))] += int(r["trials"])
        return [[cells[(row_id, kind)] for kind in kinds] for _label, row_id in rows]

    choices = [("all phases", None)] + [(phase, phase) for phase in phases]
    figure = base_figure(
        go.Heatmap(
            z=grid(None),
            x=[plot_text((labels or {}).get(kind, kind)) for kind in kinds],
            y=[plot_text(label) for label, _id in rows],
            colorscale="Blues",
            texttemplate="%{z}",
            hovertemplate="%{y}, %{x}: %{z} trials<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(320, 34 * len(rows) + 140),
        margin={"l": 20, "t": 70},
        yaxis={"automargin": True},
        updatemenus=[
            {
                "buttons": [
                    {"label": label, "method": "restyle", "args": [{"z": [grid(phase)]}]} for label, phase in choices
                ],
                "direction": "down",
                "x": 0,
                "xanchor": "left",
                "y": 1.02,
                "yanchor": "bottom",
            }
        ],
    )
    return figure


def _pipeline_figure(result: Landscape) -> go.Figure:
    """The :data:`PIPELINE_ROWS` most advanced drugs as bars up to their highest phase, coloured by the most
    advanced trial's status; the hover names trials, sponsors and actions."""
    rows = [row for row in result.pipeline if row["highest_phase"] in PIPELINE_PHASES][:PIPELINE_ROWS][::-1]
    statuses = sorted({str(row["status"]) for row in rows}, key=_status_key)
    bars = []
    for status in statuses:
        chosen = [row for row in rows if row["status"] == status]
        bars.append(
            go.Bar(
                name=plot_text(status),
                x=[PIPELINE_PHASES.index(str(row["highest_phase"])) + 1 for row in chosen],
                y=[plot_text(f"{row['drug_label']} ({row['drug']})") for row in chosen],
                orientation="h",
                customdata=[
                    [row["trials_at_phase"], row["trials"], plot_text(row["lead_sponsors"]), plot_text(row["actions"])]
                    for row in chosen
                ],
                hovertemplate=(
                    "%{y}: %{customdata[0]} of %{customdata[1]} trials at the highest phase<br>"
                    "lead sponsors: %{customdata[2]}<br>actions: %{customdata[3]}<extra></extra>"
                ),
            )
        )
    order = [plot_text(f"{row['drug_label']} ({row['drug']})") for row in rows]
    figure = base_figure(bars)
    return figure.update_layout(
        height=max(320, 20 * len(rows) + 120),
        margin={"l": 20},
        barmode="stack",
        legend_title="most advanced trial",
        xaxis={
            "tickvals": list(range(1, len(PIPELINE_PHASES) + 1)),
            "ticktext": list(PIPELINE_PHASES),
            "range": [0, len(PIPELINE_PHASES) + 0.5],
            "title": "highest phase reached",
        },
        yaxis={"automargin": True, "categoryorder": "array", "categoryarray": order},
    )


def _portfolio_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """One sponsor's trials per indication, as bars stacked by phase (the :data:`PORTFOLIO_ROWS` with most trials,
    most on top)."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[str(row["phase"])][str(row["row_label"])] = int(row["trials"])
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[str(row["row_label"])] += int(row["trials"])
    labels = sorted(totals, key=lambda label: (totals[label], label))[-PORTFOLIO_ROWS:]
    figure = base_figure(
        [
            go.Bar(
                name=plot_text(phase),
                x=[counts[phase].get(label, 0) for label in labels],
                y=[plot_text(label) for label in labels],
                orientation="h",
                marker_color=_PHASE_COLOURS[_phase_key(phase)[0] % len(_PHASE_COLOURS)],  # alike in every portfolio
            )
            for phase in sorted(counts, key=_phase_key)
        ]
    )
    return figure.update_layout(
        barmode="stack",
        xaxis_title="trials (a trial counts under each of its condition terms)",
        legend_title="phase",
        showlegend=True,
        height=max(260, 26 * len(labels) + 120),
        margin={"l": 20},
        yaxis={"automargin": True},
    )


def _map_figure(result: Landscape) -> go.Figure:
    """A world choropleth of trials, sites or active sites per country (a menu switches), from the country names
    plotly.js recognises; the geometry comes inlined with the page (:func:`_geometry`)."""
    rows = result.map
    names = [plot_text(row["country"]) for row in rows]
    measures = (("trials", "trials"), ("sites", "sites"), ("active_sites", "active sites"))
    figure = base_figure(
        go.Choropleth(
            locations=[str(row["country"]) for row in rows],
            locationmode="country names",
            z=[int(row["active_sites"]) for row in rows],
            text=names,
            colorscale="Blues",
            marker_line_color="#9aa5b1",
            customdata=[[row["trials"], row["sites"], row["active_sites"]] for row in rows],
            hovertemplate=(
                "%{text}: %{customdata[0]} trials, %{customdata[1]} sites, %{customdata[2]} active<extra></extra>"
            ),
        )
    )
    return figure.update_layout(
        height=460,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        geo={
            "projection_type": "natural earth",
            "projection_rotation_lon": 0,
            "lonaxis_range": [-180, 180],
            "showframe": False,
            "showcoastlines": False,
            "showland": True,
            "landcolor": "#eef0f2",
            "showcountries": True,
            "countrycolor": "#cbd2d9",
            "resolution": 110,
        },
        updatemenus=[
            {
                "buttons": [
                    {"label": label, "method": "restyle", "args": [{"z": [[int(row[key]) for row in rows]]}]}
                    for key, label in (measures[2], measures[0], measures[1])
                ],
                "direction": "down",
                "x": 0,
                "xanchor": "left",
                "y": 1.02,
                "yanchor": "bottom",
            }
        ],
    )


def _geometry() -> Markup:
    """The world geometry plotly.js would fetch from its CDN (``world_110m``, shipped in ``kg/views/static``),
    for ``window.PlotlyGeoAssets``: an offline page draws its map from it."""
    text = resources.files("kg.views").joinpath("static/world_110m.json").read_text(encoding="utf-8")
    if "<" in text:
        raise ValueError("kg/views/static/world_110m.json cannot be inlined: it contains '<'")
    return Markup(text)  # our own bundled file, checked above


def _results_figure(result: Landscape) -> go.Figure:
    """Trials per overall status, with and without posted results."""
    counts: dict[str, dict[bool, int]] = defaultdict(lambda: {True: 0, False: 0})
    for row in result.results_counts:
        counts[str(row["status"])][bool(row["has_results"])] += int(row["trials"])
    statuses = sorted(counts, key=_status_key)
    figure = base_figure(
        [
            go.Bar(name=name, x=statuses, y=[counts[status][posted] for status in statuses])
            for name, posted in (("results posted", True), ("no results", False))
        ]
    )
    return figure.update_layout(barmode="stack", xaxis_title="overall status", yaxis_title="trials")


def _organ_systems_figure(result: Landscape) -> go.Figure:
    """Trials listing a serious adverse event in each organ system; the hover gives participants and rate."""
    rows = result.serious_organ_systems[:TOP_EVENTS][::-1]
    figure = base_figure(
        go.Bar(
            x=[int(row["trials"]) for row in rows],
            y=[plot_text(row["organ_system"] or "(not given)") for row in rows],
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


#: The benchmark measures the chart's menu offers, with the axis title of each (all of them are in its table).
BENCHMARK_MEASURES: Final = {
    "duration_actual_months": "actual duration, months (median)",
    "duration_planned_months": "planned duration, months (median)",
    "enrollment": "enrollment (median)",
    "allocation_share": "share of trials stating an allocation",
    "masking_share": "share of trials stating a masking",
    "primary_purpose_share": "share of trials stating a primary purpose",
    "arms": "arm groups (median)",
}


def benchmark_figure(rows: list[dict[str, Any]], sides: tuple[tuple[str, str], ...]) -> go.Figure:
    """Benchmark bars side by side per phase or design code, one trace per side (``(column, name)``: the figure's
    column, its ``n`` in ``{column}_trials``); a menu picks the measure."""
    by_measure: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_measure[str(row["measure"])].append(row)
    measures = [measure for measure in BENCHMARK_MEASURES if by_measure[measure]]

    def traces(measure: str) -> dict[str, list[Any]]:
        chosen = by_measure[measure]
        groups = [plot_text(row["group"] or measure) for row in chosen]
        return {
            "x": [groups for _ in sides],
            "y": [[row[column] for row in chosen] for column, _ in sides],
            "customdata": [[row[f"{column}_trials"] for row in chosen] for column, _ in sides],
        }

    first = traces(measures[0])
    figure = base_figure(
        [
            go.Bar(
                name=name,
                x=first["x"][side],
                y=first["y"][side],
                customdata=first["customdata"][side],
                hovertemplate="%{x}: %{y} (n = %{customdata})<extra>" + plot_text(name) + "</extra>",
            )
            for side, (_, name) in enumerate(sides)
        ]
    )
    return figure.update_layout(
        barmode="group",
        yaxis_title=BENCHMARK_MEASURES[measures[0]],
        margin={"t": 70},
        updatemenus=[
            {
                "buttons": [
                    {
                        "label": BENCHMARK_MEASURES[measure],
                        "method": "update",
                        "args": [traces(measure), {"yaxis.title.text": BENCHMARK_MEASURES[measure]}],
                    }
                    for measure in measures
                ],
                "direction": "down",
                "x": 0,
                "xanchor": "left",
                "y": 1.02,
                "yanchor": "bottom",
            }
        ],
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
        figures["matrix"] = _matrix_figure(result.matrix, "intervention_type")
    if result.pipeline:
        figures["pipeline"] = _pipeline_figure(result)
    if result.map:
        figures["map"] = _map_figure(result)
    if result.mechanism_matrix:
        labels = {str(row["action"]): str(row["action_label"]) for row in result.mechanisms}
        columns = list(dict.fromkeys(str(row["action"]) for row in result.mechanisms))
        present = {str(row["action"]) for row in result.mechanism_matrix}
        figures["mechanism_matrix"] = _matrix_figure(
            result.mechanism_matrix, "action", [action for action in columns if action in present], labels
        )
    if result.benchmarks:
        figures["benchmarks"] = benchmark_figure(result.benchmarks, (("scope", "scope"), ("graph", "whole graph")))
    for number, sponsor in enumerate(result.sponsors):
        rows = [row for row in result.portfolio if row["sponsor"] == sponsor]
        if rows:
            figures[f"portfolio_{number}"] = _portfolio_figure(rows)
    return {name: figure_html(figure, f"figure-{name}") for name, figure in figures.items()}


def render_report(result: Landscape, *, store: str = "", generated: str | None = None) -> str:
    """The report page as one string: plotly.js inlined once in the head, no external resource."""
    template = environment().get_template("landscape.html.j2")
    figures = _figures(result)
    return template.render(
        landscape=result,
        scope=result.scope,
        figures=figures,
        geometry=_geometry() if "map" in figures else None,
        plotly_js=Markup(get_plotlyjs()),
        tables=result.tables(),
        top_events=TOP_EVENTS,
        recent_rows=RECENT_ROWS,
        recent_days=RECENT_DAYS,
        pipeline_rows=PIPELINE_ROWS,
        benchmark_measures=BENCHMARK_MEASURES,
        store=store,
        generated=generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_csvs(result: Landscape, directory: Path) -> list[Path]:
    """One CSV per table (``phase_status.csv`` …), columns in the order of the query's variables; each written
    whole."""
    return write_tables(result.tables(), directory)


def write_tables(tables: dict[str, list[dict[str, Any]]], directory: Path) -> list[Path]:
    """One CSV per table, named by its key, columns in the order the rows give them; each written whole."""
    paths = []
    for name, rows in tables.items():
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
