"""Regenerate the calibration tables of docs/health-score.md from the real records in ../shared/data.

    python scripts/health_calibration.py [--data ../shared/data/ctgov] [--docs docs/health-score.md]

Builds every record into an in-memory graph (the records' own phases are the peers), scores each trial as of its
record's data date, and replaces the text between the calibration markers of the docs page; prints the tables too.
tests/test_health_calibration.py checks that the page holds what this script writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import kg
from kg.analysis.calibration import calibrate
from kg.atomic import write_atomic

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- calibration:start -->\n", "<!-- calibration:end -->"


def replace_tables(page: str, tables: str) -> str:
    """The docs page with ``tables`` between its markers."""
    head, found, rest = page.partition(START)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise SystemExit(f"the page has no {START.strip()} … {END} markers")
    return head + START + tables + END + tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "ctgov")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "health-score.md")
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"no records at {args.data}: pass --data")
    with kg.build([args.data], store="oxigraph:") as graph:
        result = calibrate(graph.store)
    tables = result.to_markdown()
    print(tables)
    if result.late_on_track or result.overdue_registry_dates:
        print(f"rule broken: {result.late_on_track} {result.overdue_registry_dates}", file=sys.stderr)
        sys.exit(1)
    write_atomic(args.docs, replace_tables(args.docs.read_text(encoding="utf-8"), tables))
    print(f"wrote {args.docs}", file=sys.stderr)


if __name__ == "__main__":
    main()
