"""Landscape sections at registry scale: each table counted from the landscape fact table of an existing on-disk
store, timed one by one (the issue's target: each section in 2 s for a top-level subtree at 600k trials).

Per scope (Neoplasms by default): loading the saved fact table, resolving the scope (the vocabulary side, asked of
the store), every section's rows from the table (first run, p50, p95), and the whole ``landscape()`` as ``kg
landscape`` calls it (sections plus the pipeline's actions, recent changes and summaries). The portfolio is timed
for the scope's top lead sponsors. Prints a Markdown table; ``--json PATH`` writes the figures.

    python benchmarks/landscape.py --store oxigraph:PATH [--condition D009369] [--intervention D000970]
        [--sponsors 2] [--repeats 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kg.analysis.landscape import landscape, make_scope
from kg.analysis.landscape_index import LANDSCAPE_INDEX, sections
from kg.store import open_store


def timed(function: Callable[[], Any], repeats: int) -> tuple[dict[str, float], Any]:
    """First run, p50 and p95 in ms over ``repeats`` runs, and the last answer."""
    times: list[float] = []
    answer = None
    for _ in range(repeats):
        clock = time.perf_counter()
        answer = function()
        times.append((time.perf_counter() - clock) * 1000)
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"first_ms": times[0], "p50_ms": statistics.median(times), "p95_ms": p95}, answer


def measure(spec: str, condition: str | None, intervention: str | None, sponsors: int, repeats: int) -> dict[str, Any]:
    with open_store(spec, read_only=True) as store:
        clock = time.perf_counter()
        index = LANDSCAPE_INDEX.load(store)
        out: dict[str, Any] = {
            "store": spec,
            "trials": index.trials,
            "fact_table_load_ms": (time.perf_counter() - clock) * 1000,
            "fact_table_mib": round(index.size_bytes() / 2**20, 1),
        }
        scope = make_scope(store, condition, intervention)
        ids = (scope.condition.id if scope.condition else None, scope.intervention.id if scope.intervention else None)
        top = sections(store, index, *ids, scope.hierarchy)["top_sponsors"]()
        names = [str(row["sponsor"]) for row in top[:sponsors]]
        out["scope"] = scope.describe()
        out["sponsors"] = names
        out["scope_ms"], calls = timed(lambda: sections(store, index, *ids, scope.hierarchy, names), repeats)
        out["sections"] = {}
        for name, rows in calls.items():
            figures, answer = timed(rows, repeats)
            out["sections"][name] = {**figures, "rows": len(answer)}
        figures, result = timed(lambda: landscape(store, condition, intervention, sponsors=names), repeats)
        out["landscape"] = {**figures, "trials_in_scope": result.trials}
    return out


def markdown(out: dict[str, Any]) -> str:
    lines = [
        f"Landscape sections from the fact table: {out['scope']}; {out['trials_in_scope']:,} of {out['trials']:,} "
        f"trials in scope; store `{out['store']}`.",
        "",
        f"Fact table: loaded in {out['fact_table_load_ms']:.0f} ms, {out['fact_table_mib']} MiB of arrays. "
        f"Scope resolved in p50 {out['scope_ms']['p50_ms']:.0f} ms. Portfolio sponsors: {', '.join(out['sponsors'])}.",
        "",
        "| section | rows | first ms | p50 ms | p95 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, figures in [*out["sections"].items(), ("whole landscape()", out["landscape"])]:
        rows = figures.get("rows", "")
        lines.append(
            f"| {name} | {rows} | {figures['first_ms']:.1f} | {figures['p50_ms']:.1f} | {figures['p95_ms']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="an on-disk store, oxigraph:PATH")
    parser.add_argument("--condition", default="D009369", help="condition MeSH UI (default Neoplasms); '' for none")
    parser.add_argument("--intervention", default=None, help="intervention MeSH UI or pharmacological action")
    parser.add_argument("--sponsors", type=int, default=2, help="portfolios of the scope's top N lead sponsors")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    out = measure(args.store, args.condition or None, args.intervention, args.sponsors, args.repeats)
    out["trials_in_scope"] = out["landscape"]["trials_in_scope"]
    print(markdown(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
