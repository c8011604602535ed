"""Printing results as a table (people), CSV or JSON (scripts): one place for every command."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kg.store import QueryResult, Value

__all__ = ["Format", "console", "errors", "print_json", "print_mapping", "print_result"]

console = Console(soft_wrap=False)
errors = Console(stderr=True)


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def print_json(value: Any) -> None:
    """JSON on stdout, as is: no markup interpretation, no wrapping."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def print_result(result: QueryResult, fmt: Format, *, title: str | None = None) -> None:
    if fmt is Format.json:
        print_json(result.rows)
    elif fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.variables)
        writer.writerows([_cell(row.get(name)) for name in result.variables] for row in result.rows)
    else:
        table = Table(title=title, show_lines=False)
        for name in result.variables:
            table.add_column(name, overflow="fold")
        for row in result.rows:
            table.add_row(*(Text(_cell(row.get(name))) for name in result.variables))  # Text: no markup
        console.print(table, markup=False)
        errors.print(f"{len(result.rows)} row(s)", style="dim")


def print_mapping(values: Mapping[str, Any], fmt: Format, *, title: str | None = None) -> None:
    """A single record (``kg stats``): key/value table, or one JSON object."""
    if fmt is Format.json:
        print_json(dict(values))
        return
    rows: list[dict[str, Value]] = [{"key": key, "value": _nested(value)} for key, value in values.items()]
    print_result(QueryResult(["key", "value"], rows), fmt, title=title)


def _nested(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {item}" for key, item in value.items()) or "—"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "\n".join(str(item) for item in value) or "—"
    return _cell(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
