"""``kg landscape``: the trials of a condition subtree and/or intervention, as tables and an offline HTML report;
``kg landscape compare``: two such scopes side by side.

``landscape`` is a command group whose callback is the landscape itself, so ``kg landscape -c … -o …`` works as it
always did and ``compare`` sits beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from kg.cli.app import FormatOption, StoreOption, app
from kg.cli.output import Format, console, errors, print_json, print_result

__all__ = ["compare", "landscape"]

landscape_app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
app.add_typer(landscape_app, name="landscape")

#: The pipeline's columns a terminal has room for (the CSV and the report have them all).
_PIPELINE_COLUMNS = ("drug_label", "highest_phase", "trials_at_phase", "trials", "status", "latest_start")


def _brief(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    return {column: row[column] for column in columns}


#: Rows of a long compared table the terminal shows (the CSV and the report have them all).
_COMPARED_ROWS = 12
OutputOption = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option("--output", "-o", help="Folder for index.html and one CSV per table."),
]


def _headline(result: Any) -> list[dict[str, Any]]:
    """The benchmark medians and the randomised share (the other shares are in the CSV and the report)."""
    return [
        row
        for row in result.benchmarks
        if not row["measure"].endswith("_share") or (row["measure"], row["group"]) == ("allocation_share", "RANDOMIZED")
    ]


@landscape_app.callback(invoke_without_command=True)
def landscape(
    context: typer.Context,
    condition: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option("--condition", "-c", help="MeSH descriptor: the condition subtree, e.g. D009369 (Neoplasms)."),
    ] = None,
    output: OutputOption = None,
    intervention: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--intervention", "-i", help="MeSH concept or pharmacological action, e.g. D000970 (Antineoplastic Agents)."
        ),
    ] = None,
    sponsor: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option("--sponsor", help="A lead sponsor's exact name, for its portfolio (repeatable), e.g. Pfizer."),
    ] = None,
    action: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--action",
            help="Pharmacological action whose descendants are the mechanism matrix's columns (default: the "
            "--intervention, else the actions with most trials), e.g. D000970.",
        ),
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Landscape of a condition subtree (and an intervention): phases, status, years, sponsors, countries,
    enrollment, a subtree-by-intervention-type matrix, stopped trials, posted results, serious adverse events,
    publications, the drug pipeline, a subtree-by-pharmacological-action matrix, sponsor portfolios, a world map and
    benchmarks against the whole graph; an offline HTML report with CSVs. `kg landscape compare` sets two scopes
    side by side."""
    if context.invoked_subcommand is not None:
        return
    if condition is None or output is None:
        missing = "--condition" if condition is None else "--output"
        raise typer.BadParameter("needed for a landscape (or name a subcommand: compare)", param_hint=f"'{missing}'")
    from kg.analysis.landscape import landscape as build_landscape
    from kg.store import QueryResult, open_store
    from kg.views.landscape_report import write_report

    with open_store(store, read_only=True) as opened:
        result = build_landscape(opened, condition, intervention, sponsors=sponsor or (), action=action)
        spec = opened.spec
    page = write_report(result, output, store=spec)
    if fmt is Format.json:
        print_json({**result.to_json(), "report": str(page)})
    else:
        for name, rows in (
            ("Phase and status", result.phase_status),
            ("Lead sponsor class", result.sponsor_classes),
            ("Top lead sponsors", result.top_sponsors[:10]),
            ("Countries", result.countries[:10]),
            ("Serious adverse events", result.serious_events[:10]),
            ("Publications", result.publications),
            ("Pipeline (most advanced first)", [_brief(row, _PIPELINE_COLUMNS) for row in result.pipeline[:10]]),
            ("Pharmacological actions", result.mechanisms[:10]),
            ("Sponsor portfolios", result.portfolio),
            ("Benchmarks: scope beside the whole graph (medians; all shares in benchmarks.csv)", _headline(result)),
        ):
            columns = list(rows[0]) if rows else ["trials"]
            print_result(QueryResult(columns, rows), fmt, title=name)
        stopped = result.stopped
        console.print(
            f"{result.scope.describe()}: {result.trials:,} trials; median enrollment "
            f"{result.enrollment.quantiles.get('P50', 'n/a')}; terminated {stopped.terminated}, withdrawn "
            f"{stopped.withdrawn} ({stopped.share:.1%}).",
            markup=False,
            highlight=False,
        )
        results = result.results
        console.print(
            f"Results posted: {results.with_results:,} trials ({results.share:.1%}; {results.finished_share:.1%} of "
            f"{results.finished:,} completed or terminated); median {results.delay_months.get('P50', 'n/a')} months "
            f"from primary completion to first posting (n = {results.delay_trials}).",
            markup=False,
            highlight=False,
        )
        recent = result.recent_summary
        console.print(
            f"Recent changes: {recent['changes']:,} in {recent['trials']:,} trials; primary completion slipped in "
            f"{recent['primary_completion_slips']['trials']} trials; {len(recent['newly_recruiting'])} newly "
            f"recruiting; {len(recent['removed'])} removed.",
            markup=False,
            highlight=False,
        )
        for note in result.notes:
            errors.print(note, markup=False, style="dim")
    errors.print(f"Wrote {page} and {len(result.tables())} CSV files in {output}", markup=False)


def _difference(value: object) -> Text:
    """A difference cell: green above zero, red below."""
    if not isinstance(value, (int, float)) or not value:
        return Text("n/a" if value is None else str(value))
    return Text(f"{value:+,}" if isinstance(value, int) else f"{value:+.4g}", style="green" if value > 0 else "red")


def _print_compared(name: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=name.replace("_", " "), show_lines=False)
    columns = list(rows[0]) if rows else []
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows[:_COMPARED_ROWS]:
        table.add_row(
            *(
                _difference(row[column])
                if "difference" in column
                else Text("n/a" if row[column] is None else str(row[column]))
                for column in columns
            )
        )
    console.print(table, markup=False)
    if len(rows) > _COMPARED_ROWS:
        errors.print(f"… {len(rows) - _COMPARED_ROWS} more rows in {name}.csv", style="dim", markup=False)


@landscape_app.command()
def compare(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for index.html and one CSV per table.")],
    condition_a: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option("--condition-a", "-a", help="Scope A's condition subtree (MeSH descriptor), e.g. D009369."),
    ] = None,
    intervention_a: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option("--intervention-a", help="Scope A's intervention concept or pharmacological action."),
    ] = None,
    condition_b: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option("--condition-b", "-b", help="Scope B's condition subtree (MeSH descriptor), e.g. D007172."),
    ] = None,
    intervention_b: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option("--intervention-b", help="Scope B's intervention concept or pharmacological action."),
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Two landscapes side by side (two indications, two mechanisms, or a condition with and without a drug class):
    phases, statuses, sponsor classes, start years, countries, pharmacological actions and benchmarks, with the
    differences (scope A minus B, in trials and shares) highlighted; an offline HTML report with CSVs."""
    from kg.analysis.landscape import landscape as build_landscape
    from kg.analysis.landscape_compare import compare as compare_landscapes
    from kg.store import QueryResult, open_store
    from kg.views.landscape_compare_report import write_comparison

    with open_store(store, read_only=True) as opened:
        comparison = compare_landscapes(
            build_landscape(opened, condition_a, intervention_a), build_landscape(opened, condition_b, intervention_b)
        )
        spec = opened.spec
    page = write_comparison(comparison, output, store=spec)
    if fmt is Format.json:
        print_json({**comparison.to_json(), "report": str(page)})
    elif fmt is Format.csv:
        for rows in comparison.tables.values():
            print_result(QueryResult(list(rows[0]) if rows else ["trials"], rows), fmt)
    else:
        console.print(f"A: {comparison.a.scope.describe()}\nB: {comparison.b.scope.describe()}", markup=False)
        for name, rows in comparison.tables.items():
            _print_compared(name, rows)
    errors.print(f"Wrote {page} and {len(comparison.tables)} CSV files in {output}", markup=False)
