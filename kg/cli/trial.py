"""``kg trial``: one trial with its health score and timeline, in the terminal, as JSON or as an offline HTML page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from kg.cli.app import FormatOption, NctIdArgument, StoreOption, app
from kg.cli.output import Format, errors, print_json

__all__ = ["trial"]


@app.command()
def trial(
    nct_id: NctIdArgument,
    as_of: Annotated[
        Optional[datetime],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            show_default=False,
            help="Score and place the timeline on this day (YYYY-MM-DD; default: today), for reproducible pages.",
        ),
    ] = None,
    html: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--html", show_default=False, help="Write the trial page as one self-contained HTML file."),
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """One trial: summary, health score, timeline, MeSH hierarchies, change history (and with --html every section
    of the page)."""
    from kg.analysis.changes import trial_history
    from kg.analysis.health import health_score
    from kg.analysis.results import trial_results
    from kg.analysis.trial import trial_json, trial_summary
    from kg.store import open_store

    day = as_of.date() if as_of else None
    with open_store(store, read_only=True) as opened:
        if html is not None:
            from kg.views.trial_page import write_trial_page

            write_trial_page(opened, nct_id, html, as_of=day)
            errors.print(f"Wrote {html} ({html.stat().st_size:,} bytes)", markup=False)
            return
        if fmt is Format.json:
            print_json(trial_json(opened, nct_id, as_of=day))
            return
        summary = trial_summary(opened, nct_id)
        health = health_score(opened, nct_id, as_of=day)
        results = trial_results(opened, nct_id)
        history = trial_history(opened, nct_id)
    from kg.cli.results_view import print_results
    from kg.cli.trial_view import print_history, print_trial

    print_trial(summary, health)
    print_history(history)
    print_results(results)
