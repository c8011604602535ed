"""The saved indexes rebuilt as ``kg build`` ends: one after another in one process, against one process per core,
side by side on one store.

``kg build``, ``kg update`` and ``kg mesh load`` end by rebuilding every index saved beside the store. At 600k trials
that took 47 minutes one after the other, on one of the two cores. A store of ``kg.analysis.indexes.PARALLEL_FROM``
trials or more now gets one process per index, as many at a time as there are cores. This runs
``refresh_saved_indexes(spec, processes=N)`` for each N asked, each in a fresh interpreter, the configurations
alternating over ``--rounds``. It reports the wall time, each index's seconds, and the peak RSS of the whole
process tree, sampled four times a second (``run.tree_peak``). The indexes it saves replace the store's own:
the same files, built from the same store.

    python benchmarks/index_refresh.py --store oxigraph:benchmarks/results/tmp/store-100000 [--processes 1,2] \\
        [--rounds 1] [--out benchmarks/results]

Writes ``OUT/index_refresh.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as shared  # benchmarks/run.py: machine facts, logging

RESULTS: Final = Path(__file__).resolve().parent / "results"
#: Run in the child: rebuild every saved index as a build's end does, with the number of processes given.
CHILD: Final = """
import json, sys
from kg.analysis.indexes import refresh_saved_indexes
print(json.dumps(refresh_saved_indexes(sys.argv[1], processes=int(sys.argv[2]))))
"""


def refresh(spec: str, processes: int) -> dict[str, Any]:
    """One refresh in a fresh interpreter: wall seconds, each index's seconds, the tree's peak RSS."""
    clock = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, spec, str(processes)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tempfile.gettempdir(),  # ``-c`` puts the working folder first on the path: keep the checkout's kg
    )
    with shared.tree_peak(child.pid, 0.25) as peak:
        out, _ = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the refresh with {processes} process(es) failed (exit {child.returncode})")
    return {
        "processes": processes,
        "wall_seconds": time.perf_counter() - clock,
        "index_seconds": json.loads(out.strip().splitlines()[-1]),
        "peak_tree_rss_mib": peak[0],
    }


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# The saved indexes rebuilt: one process, or one per core",
        "",
        f"{results['date']} · {m['cpu_model']} · {m['nproc']} CPUs · commit {m['git_commit'][:10]} · load average "
        f"{m['load_average_start'][0]:.2f}. Command: `{results['command']}`. Store `{results['store']}` "
        f"({results['trials']:,} trials). See the docstring of `benchmarks/index_refresh.py`.",
        "",
        "| processes | round | wall s | peak RSS of the process tree, MiB | "
        + " | ".join(f"{name} s" for name in results["runs"][0]["index_seconds"])
        + " |",
        "|---:|---:|---:|---:|" + "---:|" * len(results["runs"][0]["index_seconds"]),
    ]
    for run in results["runs"]:
        seconds = " | ".join(f"{value:,.1f}" for value in run["index_seconds"].values())
        lines.append(
            f"| {run['processes']} | {run['round']} | {run['wall_seconds']:,.1f} | {run['peak_tree_rss_mib']:,.0f} | "
            f"{seconds} |"
        )
    by_count: dict[int, list[float]] = {}
    for run in results["runs"]:
        by_count.setdefault(run["processes"], []).append(run["wall_seconds"])
    if 1 in by_count:
        lines.append("")
        for count, walls in sorted(by_count.items()):
            if count != 1:
                ratio = statistics.median(by_count[1]) / statistics.median(walls)
                lines.append(f"- {count} processes: {ratio:.2f}x as fast as one (median wall time).")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="oxigraph:PATH")
    parser.add_argument("--processes", type=lambda text: [int(n) for n in text.split(",")], default=[1, 2])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from kg.store import open_store

    with open_store(args.store, read_only=True) as store:
        trials = len(store.select("SELECT ?s WHERE { ?s a <https://schema.org/MedicalTrial> }").rows)
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/index_refresh.py " + " ".join(sys.argv[1:]),
        "machine": shared.machine(),
        "store": args.store,
        "trials": trials,
        "runs": [],
    }
    for round_ in range(1, args.rounds + 1):
        order = args.processes if round_ % 2 else list(reversed(args.processes))
        for processes in order:
            run = {**refresh(args.store, processes), "round": round_}
            shared.log(f"{processes} process(es), round {round_}: {run}")
            results["runs"].append(run)
    shared.write_results(args.out, "index_refresh", results, report(results))


if __name__ == "__main__":
    main()
