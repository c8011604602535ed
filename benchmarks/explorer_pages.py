"""The explorer page of random trials, each drawn for the first time, for the code on the path: to compare checkouts.

``benchmarks/scale.py`` measures the page for the code it runs; this draws the same pages (``render_explorer``: its
data, then the HTML) over the same random trials (a fixed seed) for whichever ``kg`` is importable, so two checkouts
measured one after the other on one store sit side by side. The saved indexes are loaded first and one page drawn
before timing (the process's one-off work apart), as in ``scale.py``.

    python benchmarks/explorer_pages.py --store oxigraph:benchmarks/results/tmp/store-100000 [--pages 15] \\
        [--depth 2] [--label NAME]
    PYTHONPATH=/path/to/other/checkout python benchmarks/explorer_pages.py --store … --label before

Writes ``OUT/explorer_pages.{json,md}``; runs under other labels already there are kept. A checkout whose search
index format differs from the one saved beside the store builds its own in memory first (not timed).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import kg  # before benchmarks/run.py, which puts this checkout first on the path: the checkout measured is the
from kg.analysis.indexes import SAVED_INDEXES  # one PYTHONPATH names, if any
from kg.store import open_store
from kg.views.explorer import render_explorer

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as shared  # benchmarks/run.py: machine facts, logging

RESULTS: Final = Path(__file__).resolve().parent / "results"
SEED: Final = 18
_NCTS: Final = (
    "SELECT ?nct WHERE { ?trial a <https://schema.org/MedicalTrial> ; <http://purl.org/dc/terms/identifier> ?nct }"
)


def pages(spec: str, count: int, depth: int) -> dict[str, Any]:
    """``count`` pages at ``depth``, each of a trial drawn for the first time; p50 / p95 / max in ms."""
    with open_store(spec, read_only=True) as store:
        for kind in SAVED_INDEXES:
            kind.load(store)
        ncts = sorted(str(nct) for nct in store.select(_NCTS).column("nct"))
        first, *drawn = random.Random(SEED).sample(ncts, count + 1)
        render_explorer(store, first, depth=depth)
        ms = []
        for nct in drawn:
            started = time.perf_counter()
            render_explorer(store, nct, depth=depth)
            ms.append((time.perf_counter() - started) * 1000)
            shared.log(f"{nct}: {ms[-1]:,.0f} ms")
    ms.sort()
    return {
        "trials": len(ncts),
        "pages": count,
        "depth": depth,
        "p50_ms": statistics.median(ms),
        "p95_ms": ms[min(len(ms) - 1, int(0.95 * len(ms)))],
        "max_ms": ms[-1],
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        "# The explorer page, cold, by checkout",
        "",
        f"`render_explorer` of random trials (seed {SEED}), each drawn for the first time in the process, after the "
        "saved indexes were loaded and one first page drawn. `python benchmarks/explorer_pages.py`, see its docstring.",
        "",
        "| code | trials | depth | pages | p50 ms | p95 ms | max ms | machine | measured |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for run in results["runs"]:
        lines.append(
            f"| {run['label']} | {run['trials']:,} | {run['depth']} | {run['pages']} | {run['p50_ms']:,.0f} | "
            f"{run['p95_ms']:,.0f} | {run['max_ms']:,.0f} | {run['machine'].get('cpu_model', 'not recorded')} | "
            f"{run['date']}, load average "
            f"{run['machine']['load_average_start'][0]:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared.add_comparison_arguments(parser, RESULTS, "the folder kg is imported from")
    parser.add_argument("--pages", type=int, default=15)
    parser.add_argument("--depth", type=int, default=2)
    args = parser.parse_args()
    label = args.label or str(Path(kg.__file__).parent.parent)
    runs = shared.LabelledRuns(args.out, "explorer_pages", label, report)
    for spec in args.store:
        run = {"label": label, "code": str(Path(kg.__file__).parent.parent), "store": spec}
        run["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        run |= {"machine": shared.machine(), **pages(spec, args.pages, args.depth)}
        runs.add(run, lambda item: (item["trials"], item["depth"], item["date"]))


if __name__ == "__main__":
    main()
