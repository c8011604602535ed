"""``kg trial``: one trial in the terminal, in the order of the reference trial page.

Record text is Markdown: it is printed as the plain text a reader sees (escapes removed, no markup,
:func:`kg.views.markdown.plain_text`), always as Rich ``Text`` so nothing in it is read as Rich markup. Identifiers
are printed verbatim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from kg.cli.output import console
from kg.views.markdown import plain_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kg.analysis.changes import Change
    from kg.analysis.health import Health
    from kg.analysis.timeline import Timeline

__all__ = ["print_history", "print_trial"]

_FIELDS = (
    ("Status", "status"),
    ("Phase", "phases"),
    ("Study type", "study_type"),
    ("Start", "start"),
    ("Primary completion", "primary_completion"),
    ("Completion", "completion"),
    ("Enrollment", "enrollment"),
    ("Lead sponsor", "lead_sponsor"),
    ("Sponsor class", "sponsor_class"),
    ("Sites", "sites"),
    ("Countries", "countries"),
)
_PARTS = (
    ("Conditions", "condition"),
    ("Keywords", "keyword"),
    ("Interventions", "intervention"),
    ("Arms", "arm"),
    ("Primary outcomes", "primary outcome"),
    ("Secondary outcomes", "secondary outcome"),
    ("Other outcomes", "other outcome"),
    ("Sites", "site"),
    ("Secondary ids", "secondary id"),
)
_MESH = (("MeSH conditions", "condition"), ("MeSH interventions", "intervention"))
#: Summary fields that are dates the record may type, and their milestone in the timeline.
_DATED = {"start": "study_start", "primary_completion": "primary_completion", "completion": "study_completion"}
#: Parts whose label is an identifier, printed verbatim.
_IDENTIFIER_PARTS = frozenset({"secondary id"})


_LABEL_STYLES = {"On Track": "green", "Completed": "green", "Needs Attention": "yellow", "At Risk": "dark_orange"}
#: What the timeline adds to a date: an actual date is plain, and one without a type is never read as actual.
_TYPE_WORDS = {"estimated": "estimated", "actual": "actual", "not stated": "type not stated"}
_TYPE_NOTES = {kind: f" ({_TYPE_WORDS[kind]})" for kind in ("estimated", "not stated")}
_STATE_STYLES = {"completed": "green", "expected": "cyan", "overdue": "red", "recorded": "dim", "not stated": "yellow"}


def print_trial(summary: dict[str, Any], health: Health | None = None) -> None:
    """Record text is printed as plain Text: markup in a title stays text."""
    heading = Text(f"{summary['nct']}  ", style="bold")
    heading.append(plain_text(summary.get("title")))
    if summary.get("synthetic"):
        heading.append("  [SYNTHETIC record]", style="bold magenta")
    facts = Table.grid(padding=(0, 2))
    for label, key in _FIELDS:
        if summary.get(key) not in (None, ""):
            facts.add_row(Text(label, style="dim"), Text(_fact(summary, key, health)))
    console.print(Panel(facts, title=heading, title_align="left"))
    if health is not None:
        _print_health(health)
        _print_timeline(health.timeline)
    for title, part in _PARTS:
        shown = str if part in _IDENTIFIER_PARTS else plain_text
        items = summary["parts"].get(part, [])
        _print_list(title, [_line(shown(item["label"]), plain_text(item.get("detail"))) for item in items])
    for title, role in _MESH:
        _print_list(title, [_line(plain_text(item["term"]), item["id"]) for item in summary["mesh"].get(role, [])])
    hierarchy = summary["hierarchy"]
    for role in ("condition", "intervention"):
        items = [_line(item["label"], item["id"]) for item in hierarchy[role]]
        _print_list(f"{role.capitalize()} hierarchy (ancestors; {hierarchy['source']})", items, limit=20)


def _fact(summary: dict[str, Any], key: str, health: Health | None) -> str:
    """The summary's value; a date with its type as the record gives it ("not stated" when it gives none)."""
    value = plain_text(summary[key])
    milestone = health.timeline.milestone(_DATED[key]) if health is not None and key in _DATED else None
    kind = milestone.date_type if milestone is not None else None
    return f"{value} ({_TYPE_WORDS[kind]})" if kind else value


def _line(label: Any, detail: Any) -> str:
    return f"{label} ({detail})" if detail else str(label)


def _print_list(title: str, lines: list[str], *, limit: int = 12) -> None:
    if not lines:
        return
    console.print(Text(f"{title} ({len(lines)})", style="bold"))
    for line in lines[:limit]:
        console.print(Text(f"  • {line}"))
    if len(lines) > limit:
        console.print(Text(f"  … {len(lines) - limit} more", style="dim"))


def _print_health(health: Health) -> None:
    score = Text(f"{health.score}", style="bold")
    score.append(f"/100  {health.label}", style=_LABEL_STYLES.get(health.label, "red"))
    score.append(f"   as of {health.as_of.isoformat()}", style="dim")
    table = Table.grid(padding=(0, 2))
    for name, component in health.components.items():
        points = Text(f"{component.points:>2}/{component.max_points}", style="bold")
        table.add_row(Text(name.capitalize(), style="dim"), points, Text(component.explanation))
    for cap in health.caps:
        table.add_row(Text("Label", style="dim"), Text(""), Text(cap, style="yellow"))
    console.print(Panel(table, title=score, title_align="left", subtitle="Trial health (screening only)"))


def _print_timeline(timeline: Timeline) -> None:
    table = Table(box=None, padding=(0, 2), show_header=True, header_style="dim")
    for column in ("milestone", "date", "state", "until next"):
        table.add_column(column)
    for item in timeline.milestones:
        if not item.info.on_timeline:
            continue
        recorded = item.recorded + _TYPE_NOTES.get(item.date_type or "", "")
        state = Text(item.state if item.info.chain else "", style=_STATE_STYLES.get(item.state, ""))
        table.add_row(item.info.label, recorded, state, item.gap or "")
    bar = Table.grid(padding=(0, 1))
    progress = timeline.progress_percent
    if progress is not None:
        start, end = timeline.period_start, timeline.period_end
        bar.add_row(
            Text(f"Study progress {progress}%", style="bold"),
            Text(f"{start:%b %Y}" if start else ""),
            ProgressBar(total=100, completed=progress, width=40),
            Text(f"{end:%b %Y}" if end else ""),
        )
    facts = []
    months = timeline.months_left
    if months is not None:
        facts.append(
            f"{months} months left to primary completion"
            if months >= 0
            else f"{-months} months past primary completion"
        )
    if timeline.enrollment_period:
        facts.append(f"enrollment period {timeline.enrollment_period}")
    bar.add_row(Text("; ".join(facts), style="dim"))
    console.print(Panel(Group(bar, table), title=Text("Study timeline", style="bold"), title_align="left"))


def print_history(history: Sequence[Change]) -> None:
    """The trial's recorded changes, oldest first ("History"), one line each: day, field, old → new."""
    lines = [
        f"{change.detected[:10]}  {change.field}: {_value(change.old)} → {_value(change.new)}" for change in history
    ]
    _print_list("History", lines, limit=30)


def _value(value: str | None) -> str:
    return "—" if value is None else plain_text(value)
