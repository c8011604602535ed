"""A trial's results, adverse events and publications in the terminal (part of ``kg trial``).

Compact on purpose: the flow's milestones, the first outcome results (primary first), serious adverse events by organ
system and the publications; ``kg trial --html`` and ``--format json`` have everything. Record text is printed as
the plain text a reader sees (:func:`kg.views.markdown.plain_text`), always as Rich ``Text``: nothing in it is read as
Rich markup. Numbers are printed as the record writes them.
"""

from __future__ import annotations

from typing import Any, Final

from rich.table import Table
from rich.text import Text

from kg.cli.output import console
from kg.views.markdown import plain_text

__all__ = ["print_results"]

#: How much of each part the terminal shows.
OUTCOMES_SHOWN: Final = 5
ROWS_PER_OUTCOME: Final = 6
ANALYSES_SHOWN: Final = 3
#: Above this many groups, adverse event cells leave out the rate (affected/at risk stays readable).
RATES_UP_TO_GROUPS: Final = 3
EVENTS_SHOWN: Final = 20
CITATION_CHARS: Final = 160


def print_results(results: dict[str, Any]) -> None:
    """Record text is printed as plain Text: markup in it stays text."""
    if results.get("participant_flow"):
        _print_flow(results["participant_flow"])
    if results.get("outcomes"):
        _print_outcomes(results["outcomes"])
    if results.get("adverse_events"):
        _print_serious_events(results["adverse_events"])
    if results.get("publications"):
        _print_publications(results["publications"])


def _table(title: str, first: str, groups: list[dict[str, Any]]) -> Table:
    """A table whose columns are ``first`` then one per group (titled by the group, right-aligned)."""
    table = Table(title=Text(title, style="bold"), title_justify="left", show_lines=False)
    table.add_column(first, overflow="fold", min_width=20, max_width=48)
    for group in groups:
        table.add_column(Text(plain_text(group["title"] or group["id"])), justify="right", overflow="fold")
    return table


def _more(table: Table, hidden: int, what: str) -> None:
    if hidden > 0:
        table.add_row(Text(f"… {hidden} more {what}", style="dim"))


def _print_flow(flow: dict[str, Any]) -> None:
    table = _table("Participant flow", "period / milestone", flow["groups"])
    for period in flow["periods"]:
        table.add_row(Text(plain_text(period["title"]), style="italic"))
        for step in period["milestones"]:
            counts = [step["counts"].get(group["id"]) for group in flow["groups"]]
            table.add_row(Text(f"  {plain_text(step['label'])}"), *(Text("" if n is None else str(n)) for n in counts))
    console.print(table)


def _print_outcomes(outcomes: list[dict[str, Any]]) -> None:
    """The first outcomes, primary ones first, each its own small table with the p-values of its analyses."""
    ranked = sorted(outcomes, key=lambda outcome: outcome["type"] != "PRIMARY")
    for outcome in ranked[:OUTCOMES_SHOWN]:
        kind = str(outcome["type"] or "outcome").replace("_", " ").lower()
        unit = plain_text(outcome["unit"])
        table = _table(f"{kind.capitalize()} outcome: {plain_text(outcome['title'])}", unit, outcome["groups"])
        table.add_row(Text("n", style="dim"), *(Text(_shown(group["denominator"])) for group in outcome["groups"]))
        for row in outcome["rows"][:ROWS_PER_OUTCOME]:
            label = " · ".join(plain_text(part) for part in (row["class"], row["category"]) if part)
            cells = [row["cells"].get(group["id"], {}).get("text", "") for group in outcome["groups"]]
            table.add_row(Text(label), *(Text(cell) for cell in cells))
        _more(table, len(outcome["rows"]) - ROWS_PER_OUTCOME, "rows")
        tests = [
            f"{plain_text(analysis['method']) or 'analysis'}: p = {analysis['p_value']}"
            for analysis in outcome["analyses"]
            if analysis["p_value"]
        ]
        more = f"; … {len(tests) - ANALYSES_SHOWN} more analyses" if len(tests) > ANALYSES_SHOWN else ""
        table.caption = Text("; ".join(tests[:ANALYSES_SHOWN]) + more) if tests else None
        console.print(table)
    if len(outcomes) > OUTCOMES_SHOWN:
        console.print(Text(f"… {len(outcomes) - OUTCOMES_SHOWN} more outcome results (kg trial --html)", style="dim"))


def _print_serious_events(report: dict[str, Any]) -> None:
    """Serious adverse events by organ system: affected / at risk (rate) per group."""
    groups = report["groups"]
    rates = len(groups) <= RATES_UP_TO_GROUPS
    table = _table("Serious adverse events", "organ system / term", groups)
    totals = (_rate_cell(g["serious_affected"], g["serious_at_risk"], g["serious_rate"], rates) for g in groups)
    table.add_row(Text("all serious", style="bold"), *totals)
    shown = 0
    total = sum(len(system["events"]) for system in report["serious"])
    for system in report["serious"]:
        if shown >= EVENTS_SHOWN:
            break
        table.add_row(Text(plain_text(system["organ_system"]) or "organ system not stated", style="italic"))
        for event in system["events"][: EVENTS_SHOWN - shown]:
            counts = [event["counts"].get(group["id"], {}) for group in groups]
            table.add_row(
                Text(f"  {plain_text(event['term'])}"),
                *(_rate_cell(c.get("affected"), c.get("at_risk"), c.get("rate"), rates) for c in counts),
            )
            shown += 1
    _more(table, total - shown, "serious events")
    if report["time_frame"]:
        table.caption = Text(f"Time frame: {plain_text(report['time_frame'])}")
    console.print(table)


def _rate_cell(affected: Any, at_risk: Any, rate: Any, with_rate: bool) -> Text:
    """``affected/at risk (rate)``, the rate left out when the table has too many groups for it."""
    if at_risk is None:
        return Text("")
    share = f" ({rate * 100:.1f}%)" if rate is not None and with_rate else ""
    return Text(f"{_shown(affected)}/{at_risk}{share}")


def _print_publications(publications: list[dict[str, Any]]) -> None:
    table = Table(title=Text("Publications", style="bold"), title_justify="left")
    table.add_column("type")
    table.add_column("citation", overflow="fold", ratio=3)
    table.add_column("PubMed", no_wrap=True)
    for item in publications:
        citation = plain_text(item["citation"])
        if len(citation) > CITATION_CHARS:
            citation = citation[: CITATION_CHARS - 1] + "…"
        link = item["url"] or _shown(item["pmid"])
        table.add_row(Text(str(item["type"] or "").lower()), Text(citation), Text(link))
    console.print(table)


def _shown(value: Any) -> str:
    return "" if value is None else str(value)
