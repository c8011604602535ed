"""Build and query benchmark: Oxigraph on disk, Oxigraph in memory and rdflib, side by side, at growing sizes.

Inputs are the real ClinicalTrials.gov records of ``../shared/data/ctgov/`` (read at run time, never copied
into the repository), replicated under synthetic ``NCT98…`` ids to reach each size. Every measurement runs
in a fresh subprocess, so peak RSS belongs to one build and one backend only.

    python benchmarks/run.py [--sizes 1000,5000,20000] [--rdflib-max 5000] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # measure this checkout, whatever else is installed

from kg.build import BuildReport, load_records  # noqa: E402
from kg.mapping import enumeration_quads, map_study, nct_id_of, study_last_update  # noqa: E402
from kg.queries import list_queries, run  # noqa: E402
from kg.sources.ctgov import SourceProblem, iter_records  # noqa: E402
from kg.store import Store, fresh_store, open_store  # noqa: E402

DATA: Final = REPO.parent / "shared" / "data" / "ctgov"
GENERATOR: Final = "benchmarks/run.py"
SYNTHETIC_PREFIX: Final = "NCT98"

#: Backend name → store spec template (``{dir}`` is the run's scratch directory). ``map`` has no store:
#: it reads and maps the same input, so ``build − map`` is the time spent loading the store.
BACKENDS: Final = {
    "map": "",
    "oxigraph-disk": "oxigraph:{dir}/store",
    "oxigraph-memory": "oxigraph:",
    "rdflib-memory": "memory:",
}
STORE_BACKENDS: Final = ("oxigraph-disk", "oxigraph-memory", "rdflib-memory")

#: Values for the named queries' parameters, by parameter name: (text, MeSH id). All are frequent in the
#: data: "cancer" and Neoplasms (D009369, as a condition ancestor), "placebo" (142 records) and
#: Sildenafil Citrate (D000068677, the most frequent intervention MeSH term).
PARAMETER_VALUES: Final = {
    "condition": ("cancer", "D009369"),
    "intervention": ("placebo", "D000068677"),
}
DEFAULT_VALUES: Final = PARAMETER_VALUES["condition"]


# --- inputs ---------------------------------------------------------------------------------------------


def original_records() -> list[dict[str, Any]]:
    """The real records, one per NCT id (the newest version, as the build keeps), in file order."""
    chosen: dict[str, dict[str, Any]] = {}
    for item in iter_records([DATA]):
        if isinstance(item, SourceProblem):
            continue
        nct_id = nct_id_of(item.study)
        if nct_id is None:
            continue
        previous = chosen.get(nct_id)
        if previous is None or study_last_update(item.study) > study_last_update(previous):
            chosen[nct_id] = item.study
    return list(chosen.values())


def synthetic_copy(study: dict[str, Any], number: int) -> dict[str, Any]:
    """A copy of a real record under the id ``NCT98`` + 6 digits, marked synthetic at the top level."""
    protocol = dict(study["protocolSection"])
    identification = dict(protocol["identificationModule"])
    original = identification["nctId"]
    identification["nctId"] = f"{SYNTHETIC_PREFIX}{number:06d}"
    protocol["identificationModule"] = identification
    return {**study, "protocolSection": protocol, "synthetic": {"generator": GENERATOR, "from": original}}


def write_input(originals: list[dict[str, Any]], size: int, path: Path) -> int:
    """JSON Lines of ``size`` records: the originals first, then synthetic copies; returns the copies."""
    copies = max(0, size - len(originals))
    with path.open("w", encoding="utf-8") as out:
        for study in originals[:size]:
            out.write(json.dumps(study, ensure_ascii=False) + "\n")
        for number in range(copies):
            out.write(json.dumps(synthetic_copy(originals[number % len(originals)], number), ensure_ascii=False))
            out.write("\n")
    return copies


def sample_trial(originals: list[dict[str, Any]], size: int) -> str:
    """A real NCT id present at every size, with conditions, interventions and sites to return."""
    for study in originals[:size]:
        protocol = study["protocolSection"]
        if all(
            protocol.get(module, {}).get(key)
            for module, key in (
                ("conditionsModule", "conditions"),
                ("armsInterventionsModule", "interventions"),
                ("contactsLocationsModule", "locations"),
            )
        ):
            return protocol["identificationModule"]["nctId"]
    return originals[0]["protocolSection"]["identificationModule"]["nctId"]


def query_cases(nct_id: str) -> list[dict[str, Any]]:
    """Every named query with parameters from the data; a text-or-MeSH parameter is run both ways."""
    cases = []
    for query in list_queries():
        variants = ["text", "mesh"] if any(p.kind == "mesh_or_text" for p in query.parameters) else [""]
        for variant in variants:
            params: dict[str, str] = {}
            for parameter in query.parameters:
                text, mesh = PARAMETER_VALUES.get(parameter.name, DEFAULT_VALUES)
                if parameter.kind == "nct":
                    params[parameter.name] = nct_id
                elif parameter.kind == "int":
                    params[parameter.name] = "10"
                elif parameter.kind == "mesh" or variant == "mesh":
                    params[parameter.name] = mesh
                else:
                    params[parameter.name] = text
            label = f"{query.name} ({variant})" if variant else query.name
            cases.append({"label": label, "query": query.name, "params": params})
    return cases


# --- the worker: one build (and its queries) in a fresh process ------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """Resident set now: what the loaded store keeps, as opposed to the build's transient peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def directory_mib(path: Path) -> float:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file()) / 2**20


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: with 20 runs, p95 is the 19th fastest, so one cold run does not set it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def time_queries(store: Store, cases: list[dict[str, Any]], repeats: int, budget: float) -> list[dict[str, Any]]:
    """Each case up to ``repeats`` times, fewer when its runs exceed ``budget`` seconds in total."""
    results = []
    for case in cases:
        times: list[float] = []
        rows = None
        error = None
        while len(times) < repeats and sum(times) < budget:
            clock = time.perf_counter()
            try:
                result = run(store, case["query"], case["params"])
            except Exception as failure:  # a backend that cannot run a query is a result, not a crash
                error = f"{type(failure).__name__}: {failure}"[:300]
                break
            times.append(time.perf_counter() - clock)
            rows = len(result.rows)
        ms = [t * 1000 for t in times]
        results.append({
            **case,
            "runs": len(ms),
            "rows": rows,
            "error": error,
            "first_ms": ms[0] if ms else None,
            "p50_ms": percentile(ms, 0.5) if ms else None,
            "p95_ms": percentile(ms, 0.95) if ms else None,
        })
    return results


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """Build one input into one backend, then time the named queries on it; numbers for the parent."""
    backend, source = job["backend"], Path(job["input"])
    out: dict[str, Any] = {"rss_baseline_mib": peak_rss_mib()}
    clock = time.perf_counter()
    if backend == "map":
        quads = records = 0
        for item in iter_records([source]):
            if not isinstance(item, SourceProblem):
                records += 1
                quads += len(map_study(item.study).quads)
        return {**out, "seconds": time.perf_counter() - clock, "trials": records, "quads": quads,
                "rss_build_peak_mib": peak_rss_mib()}

    spec = BACKENDS[backend].format(dir=job["scratch"])
    report = BuildReport(sources=[str(source)])

    def measured(store: Store) -> None:
        out.update(seconds=time.perf_counter() - clock, rss_build_peak_mib=peak_rss_mib(),
                   rss_after_build_mib=current_rss_mib(), trials=report.trials, problems=len(report.problems))
        query_clock = time.perf_counter()
        out["quads"] = len(store)
        out["queries"] = time_queries(store, job["cases"], job["repeats"], job["budget"])
        out["query_seconds"] = time.perf_counter() - query_clock
        out["rss_end_peak_mib"] = peak_rss_mib()

    # The steps of kg.build.build (fresh store, enumerations, records; on disk: optimize and swap on exit)
    # without its provenance record, so an in-memory store stays open for the queries.
    with fresh_store(spec) as store:
        store.add(enumeration_quads())
        load_records(store, [source], report)
        if backend != "oxigraph-disk":
            measured(store)
    if backend == "oxigraph-disk":
        path = Path(spec.partition(":")[2])
        out["store_mib"] = directory_mib(path)
        with open_store(spec, read_only=True) as store:
            measured(store)
    return out


# --- the parent: inputs, subprocesses, results -----------------------------------------------------------


def run_worker(job: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """Run one job in a fresh interpreter; a failed job is recorded with its error, the run goes on."""
    job_file, result_file = scratch / "job.json", scratch / "result.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    result_file.unlink(missing_ok=True)
    clock = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--worker", str(job_file), str(result_file)],
                          capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - clock
    if done.returncode != 0 or not result_file.exists():
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-1000:]}", "wall_seconds": wall}
    return {**json.loads(result_file.read_text(encoding="utf-8")), "wall_seconds": wall}


def machine() -> dict[str, Any]:
    """What the numbers were measured on: they mean little without it."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gib": round(memory / 2**20, 1),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: metadata.version(name) for name in ("pyoxigraph", "rdflib", "oxrdflib", "ijson")},
        "git_commit": commit,
        "load_average_start": os.getloadavg(),
    }


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    originals = original_records()
    nct_id = sample_trial(originals, min(args.sizes))
    cases = query_cases(nct_id)
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {"sizes": args.sizes, "rdflib_max": args.rdflib_max, "repeats": args.repeats,
                     "rdflib_repeats": args.rdflib_repeats, "query_budget_seconds": args.query_budget},
        "input": {"source": "../shared/data/ctgov/", "original_trials": len(originals), "sample_trial": nct_id,
                  "synthetic": f"copies of the originals under {SYNTHETIC_PREFIX}###### ids, with a top-level "
                               f'"synthetic": {{"generator": "{GENERATOR}", "from": <original NCT id>}}'},
        "cases": cases,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="kg-bench-") as tmp:
        scratch = Path(tmp)
        for size in args.sizes:
            source = scratch / f"trials-{size}.jsonl"
            copies = write_input(originals, size, source)
            for backend in BACKENDS:
                if backend == "rdflib-memory" and size > args.rdflib_max:
                    continue
                repeats = args.rdflib_repeats if backend == "rdflib-memory" else args.repeats
                job = {"backend": backend, "input": str(source), "scratch": str(scratch), "cases": cases,
                       "repeats": repeats, "budget": args.query_budget}
                log(f"size {size:>7,}  {backend:<16} …")
                result = run_worker(job, scratch)
                shutil.rmtree(scratch / "store", ignore_errors=True)
                results["runs"].append({"size": size, "synthetic": copies, "input_mib": source.stat().st_size / 2**20,
                                        "backend": backend, **result})
                log(f"size {size:>7,}  {backend:<16} {summary(result)}")
            source.unlink()
    results["machine"]["load_average_end"] = os.getloadavg()
    return results


def summary(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"FAILED {result['error'][-200:]}"
    text = f"{result['seconds']:7.1f} s  {result['trials'] / result['seconds']:8.0f} trials/s"
    text += f"  peak {result['rss_build_peak_mib']:6.0f} MiB"
    if "query_seconds" in result:
        text += f"  queries {result['query_seconds']:.1f} s"
    return text


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# --- the report ------------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> str:
    """The Markdown report: build table, ratios, RSS growth, where build time goes, query latency."""
    runs = {(r["size"], r["backend"]): r for r in results["runs"] if "error" not in r}
    sizes = results["settings"]["sizes"]
    m = results["machine"]
    lines = [
        "# kg build and query benchmark",
        "",
        f"{results['date']} · {m['cpu_model']} · {m['nproc']} CPUs · {m['memory_gib']} GiB · "
        f"Python {m['python']} · pyoxigraph {m['packages']['pyoxigraph']} · rdflib {m['packages']['rdflib']} · "
        f"commit {m['git_commit'][:10]} · load average {m['load_average_start'][0]:.2f} → "
        f"{m['load_average_end'][0]:.2f}",
        "",
        f"Input: the {results['input']['original_trials']:,} unique real trials of `../shared/data/ctgov/`, then "
        f"**synthetic copies** of them ({results['input']['synthetic']}) up to each size. Command: "
        f"`python benchmarks/run.py --sizes {','.join(map(str, sizes))} --rdflib-max "
        f"{results['settings']['rdflib_max']}`. Every cell is one fresh subprocess; see `benchmarks/README.md`.",
        "",
        "## Build",
        "",
        "`map` reads and maps the records without a store; a store's build time minus it is the store's own cost.",
        "",
        "| trials | synthetic | backend | seconds | trials/s | quads | peak RSS MiB | RSS after build MiB "
        "| store on disk MiB | of which read+map |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["runs"]:
        if "error" in r:
            lines.append(f"| {r['size']:,} | {r['synthetic']:,} | {r['backend']} | failed: {r['error'][:80]} |"
                         " | | | | | |")
            continue
        mapped = runs.get((r["size"], "map"))
        share = f"{mapped['seconds'] / r['seconds']:.0%}" if mapped and r["backend"] != "map" else ""
        store = f"{r['store_mib']:,.0f}" if "store_mib" in r else ""
        after = f"{r['rss_after_build_mib']:,.0f}" if "rss_after_build_mib" in r else ""
        lines.append(f"| {r['size']:,} | {r['synthetic']:,} | {r['backend']} | {r['seconds']:.1f} "
                     f"| {r['trials'] / r['seconds']:,.0f} | {r['quads']:,} | {r['rss_build_peak_mib']:,.0f} "
                     f"| {after} | {store} | {share} |")

    lines += ["", "## Throughput ratios (same size, same run)", "",
              "Target: Oxigraph ≥ 10× rdflib in-memory build throughput.", "",
              "| trials | oxigraph-disk / rdflib | oxigraph-memory / rdflib | store only: disk / rdflib "
              "| store only: memory / rdflib |", "|---:|---:|---:|---:|---:|"]
    for size in sizes:
        rdf, mapped = runs.get((size, "rdflib-memory")), runs.get((size, "map"))
        if rdf is None:
            continue
        cells = []
        for store_only in (False, True):
            for backend in ("oxigraph-disk", "oxigraph-memory"):
                ox = runs.get((size, backend))
                base = mapped["seconds"] if store_only and mapped else 0.0
                cells.append(f"{(rdf['seconds'] - base) / (ox['seconds'] - base):.1f}×" if ox else "")
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")

    lines += ["", "## Peak RSS as trials grow", "",
              f"Trials grow {max(sizes) / min(sizes):.0f}× from {min(sizes):,} to {max(sizes):,}.", "",
              "| backend | " + " | ".join(f"{size:,}" for size in sizes) + " | RSS(max)/RSS(min) |",
              "|---|" + "---:|" * (len(sizes) + 1)]
    for backend in BACKENDS:
        peaks = [runs[(size, backend)]["rss_build_peak_mib"] if (size, backend) in runs else None for size in sizes]
        known = [(size, p) for size, p in zip(sizes, peaks) if p is not None]
        ratio = f"{known[-1][1] / known[0][1]:.2f} ({known[0][0]:,}→{known[-1][0]:,})" if len(known) > 1 else ""
        lines.append(f"| {backend} | " + " | ".join(f"{p:,.0f}" if p else "–" for p in peaks) + f" | {ratio} |")

    both = [size for size in sizes if all((size, b) in runs for b in STORE_BACKENDS)]
    if both:
        lines += query_table(results, runs, max(both), STORE_BACKENDS, "every backend")
    if max(sizes) not in both:
        lines += query_table(results, runs, max(sizes), STORE_BACKENDS[:2], "the largest size")
    return "\n".join(lines) + "\n"


def query_table(results: dict[str, Any], runs: dict[tuple[int, str], dict[str, Any]], size: int,
                backends: tuple[str, ...], why: str) -> list[str]:
    """p50 / p95 ms per query and backend at one size; rows returned, to see the backends agree."""
    s = results["settings"]
    lines = ["", f"## Query latency at {size:,} trials ({why})", "",
             f"p50 / p95 in ms over up to {s['repeats']} runs ({s['rdflib_repeats']} for rdflib), fewer when a "
             f"query's runs pass {s['query_budget_seconds']:g} s; `rows` is the result size; sample trial "
             f"{results['input']['sample_trial']}.", "",
             "| query | " + " | ".join(f"{b} p50 / p95 (runs)" for b in backends) + " | rows |",
             "|---|" + "---:|" * (len(backends) + 1)]
    for index, case in enumerate(results["cases"]):
        cells, rows = [], set()
        for backend in backends:
            q = runs[(size, backend)]["queries"][index]
            rows.add(q["rows"])
            cells.append(f"error: {q['error'][:60]}" if q["error"] else
                         f"{q['p50_ms']:,.1f} / {q['p95_ms']:,.1f} ({q['runs']})")
        agreed = " ≠ ".join(str(n) for n in sorted(rows, key=str)) if len(rows) > 1 else str(rows.pop())
        lines.append(f"| {case['label']} | " + " | ".join(cells) + f" | {agreed} |")
    return lines


def iter_sizes(text: str) -> Iterator[int]:
    for part in text.split(","):
        size = int(part.replace("_", ""))
        if size < 1:
            raise argparse.ArgumentTypeError(f"size must be positive, not {size}")
        yield size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=lambda text: sorted(set(iter_sizes(text))), default=[1000, 5000, 20000],
                        help="comma-separated trial counts (default 1000,5000,20000)")
    parser.add_argument("--rdflib-max", type=int, default=5000, help="largest size built with rdflib (slow)")
    parser.add_argument("--repeats", type=int, default=20, help="runs per query for Oxigraph")
    parser.add_argument("--rdflib-repeats", type=int, default=5, help="runs per query for rdflib")
    parser.add_argument("--query-budget", type=float, default=10.0,
                        help="stop repeating a query once its runs took this many seconds")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="results folder")
    parser.add_argument("--worker", nargs=2, metavar=("JOB", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        job_file, result_file = map(Path, args.worker)
        result = worker(json.loads(job_file.read_text(encoding="utf-8")))
        result_file.write_text(json.dumps(result), encoding="utf-8")
        return
    if not DATA.is_dir():
        parser.error(f"no input data at {DATA}: the benchmark reads the shared ClinicalTrials.gov records")
    results = benchmark(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (args.out / "report.md").write_text(report(results), encoding="utf-8")
    log(f"wrote {args.out / 'results.json'} and {args.out / 'report.md'}")


if __name__ == "__main__":
    main()
