"""``kg landscape``: the trials of a condition subtree and/or intervention, as tables and an offline HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kg.cli.app import FormatOption, StoreOption, app
from kg.cli.output import Format, console, errors, print_json, print_result

__all__ = ["landscape"]


@app.command()
def landscape(
    condition: Annotated[
        str, typer.Option("--condition", "-c", help="MeSH descriptor: the condition subtree, e.g. D009369 (Neoplasms).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for index.html and one CSV per table.")],
    intervention: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--intervention", "-i", help="MeSH concept or pharmacological action, e.g. D000970 (Antineoplastic Agents)."
        ),
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Landscape of a condition subtree (and an intervention): phases, status, years, sponsors, countries,
    enrollment, a subtree-by-intervention-type matrix, stopped trials, posted results, serious adverse events and
    publications; an offline HTML report with CSVs."""
    from kg.analysis.landscape import landscape as build_landscape
    from kg.store import QueryResult, open_store
    from kg.views.landscape_report import write_report

    with open_store(store, read_only=True) as opened:
        result = build_landscape(opened, condition, intervention)
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
