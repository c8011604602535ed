"""``kg changes``: the change feed (what ``kg update`` found changed, field by field), filtered and summarised."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from kg.change_fields import CHANGE_FIELDS
from kg.cli.app import FormatOption, StoreOption, app
from kg.cli.output import Format, console, print_json, print_result

if TYPE_CHECKING:
    from kg.analysis.changes import Change

__all__ = ["changes"]

_FIELD_HELP = f"Only this field (repeatable): {', '.join(CHANGE_FIELDS)} (sites: a site opened or closed)."


@app.command()
def changes(
    since: Annotated[
        Optional[datetime],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--since", formats=["%Y-%m-%d"], show_default=False, help="Changes detected on or after this day (UTC)."
        ),
    ] = None,
    condition: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--condition", "-c", show_default=False, help="MeSH id: trials in this condition's subtree."),
    ] = None,
    intervention: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--intervention", "-i", show_default=False, help="MeSH id: trials under this concept or action."),
    ] = None,
    field: Annotated[list[str], typer.Option("--field", help=_FIELD_HELP)] = [],  # noqa: B006
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """The change feed: field-level changes of trials recorded by `kg update`, oldest first, with a summary
    (primary-completion slips, status transitions, newly recruiting trials, sites opened and closed by country)."""
    from kg.analysis.changes import changes as find_changes
    from kg.analysis.changes import check_fields
    from kg.store import QueryResult, open_store

    fields = check_fields(field)  # before the store is opened: a typo is the user's first mistake
    with open_store(store, read_only=True) as opened:
        found = find_changes(
            opened,
            since=since.date() if since else None,
            condition=condition,
            intervention=intervention,
            fields=fields,
        )
    rows: list[dict[str, Any]] = [change.to_json() for change in found]
    if fmt is Format.json:
        print_json(rows)
        return
    columns = ["nct_id", "field", "old", "new", "detected", "data_version_before", "data_version_after"]
    print_result(QueryResult(columns, rows), fmt, title="Changes")
    if fmt is Format.table:
        _print_summary(found)


def _print_summary(found: list[Change]) -> None:
    """The monitoring figures under the table, one line each."""
    from kg.analysis.changes import summary

    figures = summary(found)
    slips = figures["primary_completion_slips"]
    transitions = ", ".join(
        f"{row['old'] or '—'} → {row['new'] or '—'} ({row['changes']})" for row in figures["status_transitions"]
    )
    countries = ", ".join(f"{row['country']} +{row['opened']}/-{row['closed']}" for row in figures["sites_by_country"])
    lines = [
        f"{figures['changes']:,} changes in {figures['trials']:,} trials.",
        f"Primary completion slipped: {slips['trials']} trials, {slips['total_months']} months in all"
        + (f" (median {slips['median_months']} per trial)." if slips["median_months"] is not None else "."),
        f"Status transitions: {transitions or 'none'}.",
        f"Newly recruiting: {', '.join(figures['newly_recruiting']) or 'none'}.",
        f"Sites opened/closed by country: {countries or 'none'}.",
        f"Removed: {', '.join(figures['removed']) or 'none'}.",
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False)
