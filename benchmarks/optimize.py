"""Does compacting a new store pay for itself? ``kg build`` runs Oxigraph's ``optimize`` on the staging store before
it swaps it in (``kg.store._staged``). Issue 18 asked to keep it only where measured to pay for itself in query
latency: this builds one synthetic registry twice, each in a fresh process, as ``kg build`` does, once with and once
without it, then times every named query's SPARQL on both stores in one process, alternating the stores run by run
(the machines are shared and noisy), and compares the index builds the two stores fed.

    python benchmarks/optimize.py [--size 10k] [--repeats 5] [--scratch DIR] [--out benchmarks/results]

Writes ``OUT/optimize.json`` (every figure) and ``OUT/optimize.md``. The corpus is ``benchmarks/scale.py``'s
(``kg synth``, every record marked synthetic), reused from the scratch folder when it is there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as shared  # benchmarks/run.py: machine facts, query cases, timed queries
import scale  # benchmarks/scale.py: the corpus and the instrumented build

from kg.queries import run
from kg.store import open_store

MODES: Final = {"optimized": True, "not optimized": False}
#: A query slower than this in SPARQL is run once per store and round (the slowest at 10k take about 2 s).
TIMEOUT: Final = 30.0


def build_worker(job_file: Path, result_file: Path) -> None:
    """One ``kg build`` as ``scale.py`` instruments it; without ``optimize`` when the job says so."""
    job = json.loads(job_file.read_text(encoding="utf-8"))
    if not job["optimize"]:
        from kg.store.oxigraph import OxigraphStore

        OxigraphStore.optimize = lambda self: None  # type: ignore[method-assign]
    result_file.write_text(json.dumps(scale.build_worker(job)), encoding="utf-8")


def build(size: int, corpus: Path, mode: str, scratch: Path) -> tuple[Path, dict[str, Any]]:
    """The store of one mode, built in a fresh interpreter (its imports and memory its own)."""
    store = scratch / f"optimize-{'on' if MODES[mode] else 'off'}-{size}"
    scale.clear_store(store)
    job = {"corpus": str(corpus), "spec": f"oxigraph:{store}", "mesh": [str(p) for p in scale.MESH], "workers": 1}
    job["optimize"] = MODES[mode]
    job_file, result_file = store.with_name(store.name + ".job.json"), store.with_name(store.name + ".result.json")
    job_file.write_text(json.dumps(job), encoding="utf-8")
    shared.log(f"building {size:,} trials, {mode}")
    subprocess.run([sys.executable, __file__, "--build-worker", str(job_file), str(result_file)], check=True)
    return store, json.loads(result_file.read_text(encoding="utf-8"))


def latencies(stores: dict[str, Path], repeats: int) -> list[dict[str, Any]]:
    """Every named query's SPARQL on each store, ``repeats`` rounds, the order of the stores alternating."""
    opened = {mode: open_store(f"oxigraph:{path}", read_only=True) for mode, path in stores.items()}
    try:
        first = next(iter(opened.values()))
        nct = str(run(first, "trials_by_condition", {"condition": "cancer"}).rows[0]["nct"])
        cases = shared.query_cases(nct)
        times: dict[str, dict[str, list[float]]] = {mode: {case["label"]: [] for case in cases} for mode in opened}
        errors: dict[str, str] = {}
        for round_ in range(repeats):
            order = list(opened) if round_ % 2 == 0 else list(reversed(opened))
            for case in cases:
                for mode in order:
                    [timed] = shared.time_queries(opened[mode], [case], 1, math.inf, TIMEOUT)
                    if timed["error"]:
                        errors[case["label"]] = timed["error"]
                    else:
                        times[mode][case["label"]].append(timed["first_ms"])
    finally:
        for store in opened.values():
            store.close()
    rows = []
    for case in cases:
        medians = {mode: statistics.median(ms) if (ms := times[mode][case["label"]]) else None for mode in opened}
        rows.append({**case, "p50_ms": medians, "error": errors.get(case["label"])})
    return rows


def ratio(row: dict[str, Any]) -> float | None:
    """How many times longer the query took on the store left as loaded."""
    on, off = row["p50_ms"]["optimized"], row["p50_ms"]["not optimized"]
    return off / on if on and off else None


def report(result: dict[str, Any]) -> str:
    builds, rows = result["builds"], result["queries"]
    ratios = [r for row in rows if (r := ratio(row)) is not None]
    slow = [r for row in rows if (r := ratio(row)) is not None and row["p50_ms"]["optimized"] >= 10]
    on, off = builds["optimized"], builds["not optimized"]
    optimize_s = on["phases"]["optimize_and_swap"] - off["phases"]["optimize_and_swap"]
    saved_s = off["phases"]["indexes"] - on["phases"]["indexes"]
    lines = [
        "# Does `optimize` pay for itself?",
        "",
        f"{result['finished']} · {result['machine']['cpu_model']} · {result['machine']['usable_cpus']} CPUs · "
        f"commit {result['machine']['git_commit'][:10]} · load average {result['machine']['load_average_start'][0]:.1f}"
        f" → {result['load_average_end'][0]:.1f}",
        "",
        f"Command: `{result['command']}`. Input: `kg synth`'s registry of {result['size']:,} synthetic trials. "
        "Each store built by `kg build` in a fresh process; the SPARQL of every named query (`kg.queries.run`, "
        "what a remote engine or a query without a fast path runs) timed on both stores in one process, "
        f"{result['repeats']} rounds, the order of the stores alternating; p50 in ms.",
        "",
        f"- `optimize` (with the swap) took **{optimize_s:.1f} s** more; the saved indexes then built "
        f"**{saved_s:.1f} s** faster ({on['phases']['indexes']:.1f} s against {off['phases']['indexes']:.1f} s).",
        f"- Queries on the store left as loaded took **{statistics.geometric_mean(ratios):.2f}x** as long "
        f"(geometric mean of {len(ratios)} queries; {statistics.geometric_mean(slow):.2f}x over the {len(slow)} "
        f"taking 10 ms or more; from {min(ratios):.2f}x to {max(ratios):.2f}x).",
        f"- Store on disk: {on['store_mib']:,.0f} MiB optimized, {off['store_mib']:,.0f} MiB not.",
        "",
        "| phase s | optimized | not optimized |",
        "|---|---:|---:|",
    ]
    for phase in on["phases"]:
        lines.append(f"| {phase} | {on['phases'][phase]:.1f} | {off['phases'].get(phase, 0.0):.1f} |")
    for name in on["index_seconds"]:
        lines.append(f"| index {name} | {on['index_seconds'][name]:.1f} | {off['index_seconds'][name]:.1f} |")
    lines += ["", "| query | optimized | not optimized | ratio |", "|---|---:|---:|---:|"]
    for row in rows:
        cells = [f"{v:,.1f}" if v is not None else "-" for v in row["p50_ms"].values()]
        r = ratio(row)
        lines.append(f"| {row['label']} | {cells[0]} | {cells[1]} | {f'{r:.2f}' if r else row['error'] or '-'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=scale.tier, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scratch", type=Path, default=scale.RESULTS / "tmp")
    parser.add_argument("--out", type=Path, default=scale.RESULTS)
    parser.add_argument("--build-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_worker:
        build_worker(*args.build_worker)
        return
    args.scratch.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    machine = shared.machine()
    corpus, _ = scale.corpus(args.size, args.scratch)
    stores, builds = {}, {}
    for mode in MODES:
        stores[mode], builds[mode] = build(args.size, corpus, mode, args.scratch)
    result = {
        "command": "python benchmarks/optimize.py " + " ".join(sys.argv[1:]),
        "size": args.size,
        "repeats": args.repeats,
        "machine": machine,
        "builds": builds,
        "queries": latencies(stores, args.repeats),
        "load_average_end": list(os.getloadavg()),
        "seconds": time.perf_counter() - started,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    shared.write_results(args.out, "optimize", result, report(result))
    shared.log(f"wrote {args.out / 'optimize.md'} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
