"""What each saved index costs to build: its peak memory and time, each built alone in a fresh process.

``kg build`` ends by building the indexes saved beside the store (related trials, landscape fact table, health
peers, search, trial facts): from 20,000 trials in processes of their own, two at a time on two cores, so the
build's peak RSS in that phase is about the sum of two of these (benchmarks/index_refresh.py). This builds each
index from an existing store, opened read-only, in a child interpreter of its own, and reports the child's peak RSS
(``VmHWM``) over what it held once the store was open (the engine's table readers included), the seconds and the
pickled size. Nothing is saved beside the store.

    python benchmarks/index_memory.py --store oxigraph:benchmarks/results/tmp/store-10000 \\
        --store oxigraph:benchmarks/results/tmp/store-100000 [--label NAME] [--out benchmarks/results]

``--label`` names the code measured (default: the commit); runs under other labels already in ``OUT/index_memory.json``
are kept, so two checkouts measured one after the other on the same stores sit side by side in
``OUT/index_memory.md`` (run one with ``PYTHONPATH`` pointing at the other checkout).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as shared  # benchmarks/run.py: machine facts, logging

RESULTS: Final = Path(__file__).resolve().parent / "results"

#: Run in the child: open the store, note the memory held, build one index, note the peak.
CHILD: Final = """
import json, pickle, sys, time
from pathlib import Path
import kg
from kg.analysis.indexes import SAVED_INDEXES
from kg.store import open_store

def status(key):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) / 1024 for line in lines if line.startswith(key + ":"))

spec, name = sys.argv[1:3]
kind = next(kind for kind in SAVED_INDEXES if kind.name == name)
with open_store(spec, read_only=True) as store:
    opened = status("VmHWM")
    started = time.perf_counter()
    index = kind.build(store)
    seconds = time.perf_counter() - started
    peak = status("VmHWM")
size = len(pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL))
figures = {"opened_mib": opened, "peak_mib": peak, "seconds": seconds, "pickle_mib": size / 2**20}
print(json.dumps({**figures, "code": str(Path(kg.__file__).parent.parent)}))
"""


def measure(spec: str, name: str) -> dict[str, Any]:
    """One index built from the store at ``spec`` in a fresh interpreter."""
    # from a neutral folder: ``-c`` puts the working folder first on the path, ahead of PYTHONPATH's checkout
    done = subprocess.run(
        [sys.executable, "-c", CHILD, spec, name], capture_output=True, text=True, check=True, cwd=tempfile.gettempdir()
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(results: dict[str, Any]) -> str:
    lines = [
        "# Saved index builds: peak memory and time, each index alone",
        "",
        "Each index built from the store (opened read-only) in a fresh process: peak RSS over what the process held "
        "once the store was open, MiB; seconds. `python benchmarks/index_memory.py`, see its docstring.",
        "",
        "| code | trials | index | held after opening, MiB | peak added, MiB | seconds | pickle MiB |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        for name, figures in run["indexes"].items():
            lines.append(
                f"| {run['label']} | {run['trials']:,} | {name} | {figures['opened_mib']:,.0f} | "
                f"{figures['peak_mib'] - figures['opened_mib']:,.0f} | {figures['seconds']:,.1f} | "
                f"{figures['pickle_mib']:,.1f} |"
            )
    lines.append("")
    for run in results["runs"]:
        m = run["machine"]
        lines.append(
            f"- {run['label']}, {run['trials']:,} trials: {run['date']} · {m['cpu_model']} · {m['nproc']} CPUs · "
            f"pyoxigraph {m['packages']['pyoxigraph']} · load average {m['load_average_start'][0]:.2f}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared.add_comparison_arguments(parser, RESULTS, "the commit")
    parser.add_argument("--index", action="append", help="only these indexes (default: every saved one)")
    args = parser.parse_args()
    from kg.analysis.indexes import SAVED_INDEXES
    from kg.store import open_store

    label = args.label or shared.machine()["git_commit"][:10]
    runs = shared.LabelledRuns(args.out, "index_memory", label, report)
    for spec in args.store:
        with open_store(spec, read_only=True) as store:
            trials = len(store.select("SELECT ?s WHERE { ?s a <https://schema.org/MedicalTrial> }").rows)
        run = {"label": label, "store": spec, "trials": trials, "indexes": {}}
        run |= {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": shared.machine()}
        for kind in SAVED_INDEXES:
            if args.index and kind.name not in args.index:
                continue
            run["indexes"][kind.name] = measure(spec, kind.name)
            shared.log(f"{label} {trials:,} {kind.name}: {run['indexes'][kind.name]}")
        runs.add(run, lambda item: (item["trials"], item["label"]))


if __name__ == "__main__":
    main()
