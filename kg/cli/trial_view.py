"""``kg trial``: one trial in the terminal, in the order of the reference trial page."""

from __future__ import annotations

from typing import Any

from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kg.cli.output import console

__all__ = ["print_trial"]

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
)
_MESH = (("MeSH conditions", "condition"), ("MeSH interventions", "intervention"))


def print_trial(summary: dict[str, Any]) -> None:
    """Record text is printed as plain Text: markup in a title stays text."""
    heading = Text(f"{summary['nct']}  ", style="bold")
    heading.append(str(summary.get("title") or ""))
    if summary.get("synthetic"):
        heading.append("  [SYNTHETIC record]", style="bold magenta")
    facts = Table.grid(padding=(0, 2))
    for label, key in _FIELDS:
        if summary.get(key) not in (None, ""):
            facts.add_row(Text(label, style="dim"), Text(str(summary[key])))
    console.print(Panel(facts, title=heading, title_align="left"))
    for title, part in _PARTS:
        _print_list(title, [_line(item["label"], item.get("detail")) for item in summary["parts"].get(part, [])])
    for title, role in _MESH:
        _print_list(title, [_line(item["term"], item["id"]) for item in summary["mesh"].get(role, [])])
    hierarchy = summary["hierarchy"]
    for role in ("condition", "intervention"):
        items = [_line(item["label"], item["id"]) for item in hierarchy[role]]
        _print_list(f"{role.capitalize()} hierarchy (ancestors; {hierarchy['source']})", items, limit=20)


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
