"""Build and query benchmark: Oxigraph on disk, Oxigraph in memory and rdflib, side by side, at growing sizes.

Inputs are the real ClinicalTrials.gov records of ``../shared/data/ctgov/`` (read at run time, never copied
into the repository), replicated under synthetic ``NCT98…`` ids to reach each size. Every measurement runs
in a fresh subprocess, so peak RSS belongs to one build and one backend only.

    python benchmarks/run.py [--sizes 1000,5000,20000] [--rdflib-max 5000] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # measure this checkout, whatever else is installed

import kg.pipeline.build  # noqa: E402
from kg.ctgov.files import SourceProblem, iter_records  # noqa: E402
from kg.ctgov.mapping import nct_id_of, study_last_update  # noqa: E402
from kg.queries import list_queries, run  # noqa: E402
from kg.store import QueryResult, Store, fresh_store, open_store  # noqa: E402

DATA: Final = REPO.parent / "shared" / "data" / "ctgov"
MESH_FILES: Final = [
    REPO.parent / "shared" / "data" / "mesh" / name for name in ("d2024-reduced.bin", "c2024-reduced.bin")
]
GENERATOR: Final = "benchmarks/run.py"
SYNTHETIC_PREFIX: Final = "NCT98"

#: Backend name → store spec template (``{dir}`` is the run's scratch directory).
BACKENDS: Final = {
    "oxigraph-disk": "oxigraph:{dir}/store",
    "oxigraph-memory": "oxigraph:",
    "rdflib-memory": "memory:",
}

#: Values for the named queries' parameters, by parameter name: (text, MeSH id). All occur in the data:
#: "cancer" and Neoplasms (D009369, as a condition ancestor), "placebo" (142 records) and Sildenafil Citrate
#: (D000068677, the most frequent intervention MeSH term), Lung Neoplasms (D008175: the lung cancer trials,
#: a mid-level descriptor with both ancestors and descendants in the MeSH hierarchy).
PARAMETER_VALUES: Final = {
    "condition": ("cancer", "D009369"),
    "intervention": ("placebo", "D000068677"),
    "concept": ("Lung Neoplasms", "D008175"),
    "label": ("Lung Neoplasms", "D008175"),
    "since": ("2024-01-01", "2024-01-01"),  # a day (changes_since): "cancer" is an error on Virtuoso
}
DEFAULT_VALUES: Final = PARAMETER_VALUES["condition"]
#: What answers a named query: ``kg.queries.run`` (its SPARQL) or ``kg.analysis.answers.answer`` (as ``kg query``).
Runner = Callable[[Store, str, Mapping[str, str]], QueryResult]


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
    return rss_mib(os.getpid())


def rss_mib(pid: int) -> float:
    """Resident set of process ``pid`` now, 0 once it has exited (Linux reports KiB)."""
    try:
        status = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0) / 1024


def tree_rss_mib(pid: int) -> float:
    """Resident set of a process and all its descendants now (a build and its mapping and index processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, ()))
        total += rss_mib(current)
    return total


@contextlib.contextmanager
def every(seconds: float, action: Callable[[float], None]) -> Iterator[None]:
    """Call ``action(seconds since the block began)`` every ``seconds`` in a thread while the block runs: the
    memory samplers of the benchmarks that watch another process."""
    done = threading.Event()
    began = time.monotonic()

    def loop() -> None:
        while not done.wait(seconds):
            action(time.monotonic() - began)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@contextlib.contextmanager
def tree_peak(pid: int, seconds: float = 0.5, name: str | None = None) -> Iterator[list[float]]:
    """The peak resident set of process ``pid`` with its descendants while the block runs, sampled every ``seconds``
    (a one-item list, read after the block). With ``name``, each growth by a quarter is logged: a long run's log
    shows where its memory went."""
    peak, logged = [0.0], [100.0]

    def sample(elapsed: float) -> None:
        now = tree_rss_mib(pid)
        peak[0] = max(peak[0], now)
        if name and now > logged[0] * 1.25:
            log(f"{name}: process tree RSS {now:,.0f} MiB after {elapsed:,.0f} s")
            logged[0] = now

    with every(seconds, sample):
        yield peak


def directory_mib(path: Path) -> float:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file()) / 2**20


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: with 20 runs, p95 is the 19th fastest, so one cold run does not set it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class QueryTimeout(BaseException):
    """Raised by the alarm inside a slow query; a BaseException so no ``except Exception`` swallows it."""


def _alarm(signum: int, frame: object) -> None:
    raise QueryTimeout


def time_queries(
    store: Store,
    cases: list[dict[str, Any]],
    repeats: int,
    budget: float,
    timeout: float,
    *,
    runner: Runner = run,
    keep: dict[str, QueryResult] | None = None,
) -> list[dict[str, Any]]:
    """Each case up to ``repeats`` times, fewer once its runs took ``budget`` seconds; a run longer than
    ``timeout`` is abandoned (rdflib needs minutes for some queries). ``runner`` answers a named query (the SPARQL by
    default); ``keep``, when given, receives each finished case's last result by label, to compare two runners."""
    signal.signal(signal.SIGALRM, _alarm)
    results = []
    for case in cases:
        times: list[float] = []
        rows = error = None
        while len(times) < repeats and sum(times) < budget:
            clock = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                result = runner(store, case["query"], case["params"])
                rows = len(result.rows)
                if keep is not None:
                    keep[case["label"]] = result
            except QueryTimeout:
                error = f"timeout: > {timeout:g} s"
                break
            except Exception as failure:  # a backend that cannot run a query is a result, not a crash
                error = f"{type(failure).__name__}: {failure}"[:300]
                break
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            times.append(time.perf_counter() - clock)
        ms = [t * 1000 for t in times]
        results.append(
            {
                **case,
                "runs": len(ms),
                "rows": rows,
                "error": error,
                "first_ms": ms[0] if ms else None,
                "p50_ms": percentile(ms, 0.5) if ms else None,
                "p95_ms": percentile(ms, 0.95) if ms else None,
            }
        )
    return results


def clocks() -> tuple[float, float]:
    """Wall time and this process's CPU time (all threads): CPU time suffers less from other processes
    on a shared machine, so ratios of CPU time are the steadier ones."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = clocks()
    return wall - start[0], cpu - start[1]


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`kg.pipeline.build.build` on one input and backend, then time the named queries on the result.

    ``kg.pipeline.build``'s ``fresh_store`` is swapped for an instrumented one: it clocks the time spent inside the
    store's methods, and queries an in-memory store before the build closes it (nothing else can reach it).
    An on-disk store is reopened read-only after the build, as ``kg query`` would.
    """
    backend, source = job["backend"], Path(job["input"])
    spec = BACKENDS[backend].format(dir=job["scratch"])
    in_memory = backend != "oxigraph-disk"
    out: dict[str, Any] = {"rss_baseline_mib": peak_rss_mib(), "store_call_seconds": 0.0, "store_call_cpu_seconds": 0.0}
    depth, building = 0, True

    def clocked(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            nonlocal depth
            started = clocks()
            depth += 1
            try:
                return method(*args)
            finally:
                depth -= 1
                if depth == 0 and building:  # a method calling another one (replace_graphs → add) counts once
                    wall, cpu = since(started)
                    out["store_call_seconds"] += wall
                    out["store_call_cpu_seconds"] += cpu

        return call

    def measured(store: Store) -> None:
        nonlocal building
        building = False
        out["seconds"], out["cpu_seconds"] = since(start)
        out.update(rss_build_peak_mib=peak_rss_mib(), rss_after_build_mib=current_rss_mib())
        query_clock = time.perf_counter()
        out["queries"] = time_queries(store, job["cases"], job["repeats"], job["budget"], job["timeout"])
        out["query_seconds"] = time.perf_counter() - query_clock
        out["rss_end_peak_mib"] = peak_rss_mib()

    @contextlib.contextmanager
    def instrumented(spec: str | None = None) -> Iterator[Store]:
        with fresh_store(spec) as store:
            for name in ("add", "replace_graphs", "remove_graph", "select"):
                setattr(store, name, clocked(getattr(store, name)))
            yield store
            if in_memory:  # nothing to optimize or swap: the store is queried, then closed
                out["optimize_swap_seconds"] = out["optimize_swap_cpu_seconds"] = 0.0
                measured(store)
                return
            body_done = clocks()
        out["optimize_swap_seconds"], out["optimize_swap_cpu_seconds"] = since(body_done)

    kg.pipeline.build.fresh_store = instrumented
    start = clocks()
    report = kg.pipeline.build.build([source], spec, mesh=MESH_FILES if job["mesh"] else None)
    out.update(trials=report.trials, quads=report.quads, problems=len(report.problems))
    if not in_memory:
        out["store_mib"] = directory_mib(Path(spec.partition(":")[2]))
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
    done = subprocess.run(
        [sys.executable, __file__, "--worker", str(job_file), str(result_file)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    wall = time.perf_counter() - clock
    if done.returncode != 0 or not result_file.exists():
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-1000:]}", "wall_seconds": wall}
    return {**json.loads(result_file.read_text(encoding="utf-8")), "wall_seconds": wall}


def machine() -> dict[str, Any]:
    """What the numbers were measured on: they mean little without it."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")
    )
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout.strip()
    changed = subprocess.run(  # a run's own results, written between its tiers, are not a change to the code
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"],
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gib": round(memory / 2**20, 1),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: metadata.version(name) for name in ("pyoxigraph", "rdflib", "oxrdflib", "ijson")},
        "git_commit": commit,
        "git_changed": bool(changed),  # tracked files other than results differ from the commit
        "load_average_start": os.getloadavg(),
    }


def code_measured(machine: dict[str, Any]) -> str:
    """``commit 0123456789`` of the checkout measured, saying so when its tracked files differed from the commit."""
    changed = " (plus uncommitted work)" if machine.get("git_changed", True) else ""
    return f"commit {machine['git_commit'][:10]}{changed}"


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    originals = original_records()
    nct_id = sample_trial(originals, min(args.sizes))
    cases = query_cases(nct_id)
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "sizes": args.sizes,
            "rdflib_max": args.rdflib_max,
            "repeats": args.repeats,
            "rdflib_repeats": args.rdflib_repeats,
            "query_budget_seconds": args.query_budget,
            "query_timeout_seconds": args.query_timeout,
            "mesh": args.mesh,
        },
        "input": {
            "source": "../shared/data/ctgov/",
            "original_trials": len(originals),
            "sample_trial": nct_id,
            "synthetic": f"copies of the originals under {SYNTHETIC_PREFIX}###### ids, with a top-level "
            f'"synthetic": {{"generator": "{GENERATOR}", "from": <original NCT id>}}',
        },
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
                job = {
                    "backend": backend,
                    "input": str(source),
                    "scratch": str(scratch),
                    "cases": cases,
                    "repeats": repeats,
                    "budget": args.query_budget,
                    "timeout": args.query_timeout,
                    "mesh": args.mesh,
                }
                log(f"size {size:>7,}  {backend:<16} …")
                result = run_worker(job, scratch)
                shutil.rmtree(scratch / "store", ignore_errors=True)
                results["runs"].append(
                    {
                        "size": size,
                        "synthetic": copies,
                        "input_mib": source.stat().st_size / 2**20,
                        "backend": backend,
                        **result,
                    }
                )
                log(f"size {size:>7,}  {backend:<16} {summary(result)}")
            source.unlink()
    results["machine"]["load_average_end"] = os.getloadavg()
    return results


def summary(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"FAILED {result['error'][-200:]}"
    return (
        f"{result['seconds']:7.1f} s  {result['trials'] / result['seconds']:6.0f} trials/s  "
        f"store {store_seconds(result):6.1f} s  peak {result['rss_build_peak_mib']:6.0f} MiB  "
        f"queries {result['query_seconds']:.1f} s"
    )


def store_seconds(result: dict[str, Any], cpu: str = "") -> float:
    """Time the store itself took (``cpu="cpu_"``: its CPU time): inside its methods, plus optimize and swap."""
    return result[f"store_call_{cpu}seconds"] + result[f"optimize_swap_{cpu}seconds"]


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def write_results(out: Path, name: str, results: dict[str, Any], markdown: str) -> None:
    """A benchmark's figures as ``OUT/NAME.json`` and its report as ``OUT/NAME.md``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (out / f"{name}.md").write_text(markdown, encoding="utf-8")


def add_comparison_arguments(parser: argparse.ArgumentParser, out: Path, default_label: str) -> None:
    """``--store`` (repeatable), ``--label`` and ``--out`` of a benchmark whose runs :class:`LabelledRuns` keeps."""
    parser.add_argument("--store", action="append", required=True, help="oxigraph:PATH; repeat for several")
    parser.add_argument("--label", help=f"what code is measured (default: {default_label})")
    parser.add_argument("--out", type=Path, default=out)


class LabelledRuns:
    """``OUT/NAME.json`` and its Markdown report, holding runs by the label of the code measured: measuring a label
    again replaces its runs and keeps the others', so two checkouts measured one after the other sit side by side."""

    def __init__(self, out: Path, name: str, label: str, report: Callable[[dict[str, Any]], str]) -> None:
        self.out, self.name, self.report = out, name, report
        path = out / f"{name}.json"
        self.results: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"runs": []}
        self.results["runs"] = [run for run in self.results["runs"] if run["label"] != label]

    def add(self, run: dict[str, Any], order: Callable[[dict[str, Any]], Any]) -> None:
        """Keep ``run`` (runs sorted by ``order``) and write both files again, so an interrupted run keeps its past."""
        self.results["runs"] = sorted([*self.results["runs"], run], key=order)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / f"{self.name}.json").write_text(json.dumps(self.results, indent=1) + "\n", encoding="utf-8")
        (self.out / f"{self.name}.md").write_text(self.report(self.results), encoding="utf-8")


# --- the report ------------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> str:
    """The Markdown report: build table, ratios, RSS growth, query latency."""
    runs = {(r["size"], r["backend"]): r for r in results["runs"] if "error" not in r}
    sizes = results["settings"]["sizes"]
    m = results["machine"]
    lines = [
        "# kg build and query benchmark",
        "",
        f"{results['date']} · {m['cpu_model']} · {m['nproc']} CPUs · {m['memory_gib']} GiB · "
        f"Python {m['python']} · pyoxigraph {m['packages']['pyoxigraph']} · rdflib {m['packages']['rdflib']} · "
        f"{code_measured(m)} · load average {m['load_average_start'][0]:.2f} → "
        f"{m['load_average_end'][0]:.2f}",
        "",
        f"Input: the {results['input']['original_trials']:,} unique real trials of `../shared/data/ctgov/`, then "
        f"**synthetic copies** of them ({results['input']['synthetic']}) up to each size. Command: "
        f"`python benchmarks/run.py --sizes {','.join(map(str, sizes))} --rdflib-max "
        f"{results['settings']['rdflib_max']}{' --mesh' if results['settings']['mesh'] else ''}`. Every row is one "
        "fresh subprocess running `kg.pipeline.build.build`; see `benchmarks/README.md`. "
        + (
            "MeSH (`../shared/data/mesh`) is loaded in every build."
            if results["settings"]["mesh"]
            else "MeSH is not loaded (`--mesh` loads it): the queries over the loaded hierarchy return no rows here."
        ),
        "",
        "## Build",
        "",
        "`store` is the time inside the store's methods (adding quads, the build's own SPARQL queries; on disk also "
        "optimize and swap), `Python` the rest of the build: reading and mapping the records, information content. "
        "CPU seconds (all threads of the process) are in parentheses; they suffer less than wall time from other "
        "processes on the machine.",
        "",
        "| trials | synthetic | backend | build s (CPU) | trials/s | quads | store s (CPU) | Python s (CPU) "
        "| peak RSS MiB | RSS after build MiB | store on disk MiB |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["runs"]:
        if "error" in r:
            lines.append(
                f"| {r['size']:,} | {r['synthetic']:,} | {r['backend']} | failed: {r['error'][:80]} |" + " |" * 7
            )
            continue
        disk = f"{r['store_mib']:,.0f}" if "store_mib" in r else ""
        store, store_cpu = store_seconds(r), store_seconds(r, "cpu_")
        lines.append(
            f"| {r['size']:,} | {r['synthetic']:,} | {r['backend']} | {r['seconds']:.1f} ({r['cpu_seconds']:.1f}) "
            f"| {r['trials'] / r['seconds']:,.0f} | {r['quads']:,} | {store:.1f} ({store_cpu:.1f}) "
            f"| {r['seconds'] - store:.1f} ({r['cpu_seconds'] - store_cpu:.1f}) | {r['rss_build_peak_mib']:,.0f} "
            f"| {r['rss_after_build_mib']:,.0f} | {disk} |"
        )

    measures: dict[str, Callable[[dict[str, Any]], float]] = {
        "whole build, wall": lambda r: r["seconds"],
        "whole build, CPU": lambda r: r["cpu_seconds"],
        "store only, wall": store_seconds,
        "store only, CPU": lambda r: store_seconds(r, "cpu_"),
    }
    lines += [
        "",
        "## Throughput ratios (same size, same run)",
        "",
        "rdflib's build time over Oxigraph's: how many times faster Oxigraph is. Target: Oxigraph ≥ 10x rdflib "
        "in-memory build throughput. `store only` leaves out the Python work every backend shares.",
        "",
        "| trials | measure | oxigraph-disk / rdflib | oxigraph-memory / rdflib |",
        "|---:|---|---:|---:|",
    ]
    for size in sizes:
        rdf = runs.get((size, "rdflib-memory"))
        if rdf is None:
            continue
        for name, measure in measures.items():
            cells = [
                f"{measure(rdf) / measure(runs[(size, backend)]):.1f}x" if (size, backend) in runs else ""
                for backend in ("oxigraph-disk", "oxigraph-memory")
            ]
            lines.append(f"| {size:,} | {name} | " + " | ".join(cells) + " |")

    lines += [
        "",
        "## Peak RSS as trials grow",
        "",
        f"Build peak RSS in MiB. Trials grow {max(sizes) / min(sizes):.0f}x from {min(sizes):,} to "
        f"{max(sizes):,}; the interpreter with kg imported takes "
        f"{min(r['rss_baseline_mib'] for r in runs.values()):,.0f} MiB before any build.",
        "",
        "| backend | " + " | ".join(f"{size:,}" for size in sizes) + " | RSS(max)/RSS(min) |",
        "|---|" + "---:|" * (len(sizes) + 1),
    ]
    for backend in BACKENDS:
        known = [(size, runs[(size, backend)]["rss_build_peak_mib"]) for size in sizes if (size, backend) in runs]
        peaks = dict(known)
        ratio = f"{known[-1][1] / known[0][1]:.2f} ({known[0][0]:,}→{known[-1][0]:,})" if len(known) > 1 else ""
        lines.append(
            f"| {backend} | "
            + " | ".join(f"{peaks[size]:,.0f}" if size in peaks else "-" for size in sizes)
            + f" | {ratio} |"
        )

    everywhere = [size for size in sizes if all((size, backend) in runs for backend in BACKENDS)]
    if everywhere:
        lines += query_table(results, runs, max(everywhere), tuple(BACKENDS), "every backend")
    oxigraph = ("oxigraph-disk", "oxigraph-memory")
    if max(sizes) not in everywhere and all((max(sizes), backend) in runs for backend in oxigraph):
        lines += query_table(results, runs, max(sizes), oxigraph, "the largest size")
    return "\n".join(lines) + "\n"


def query_table(
    results: dict[str, Any], runs: dict[tuple[int, str], dict[str, Any]], size: int, backends: tuple[str, ...], why: str
) -> list[str]:
    """p50 / p95 ms per query and backend at one size; rows returned, to see the backends agree."""
    s = results["settings"]
    lines = [
        "",
        f"## Query latency at {size:,} trials ({why})",
        "",
        f"p50 / p95 in ms over up to {s['repeats']} runs ({s['rdflib_repeats']} for rdflib), fewer once a "
        f"query's runs took {s['query_budget_seconds']:g} s; a run is abandoned after "
        f"{s['query_timeout_seconds']:g} s. `rows` is the result size (backends must agree); sample trial "
        f"{results['input']['sample_trial']}.",
        "",
        "| query | " + " | ".join(f"{b} p50 / p95 (runs)" for b in backends) + " | rows |",
        "|---|" + "---:|" * (len(backends) + 1),
    ]
    for index, case in enumerate(results["cases"]):
        cells, rows = [], set()
        for backend in backends:
            q = runs[(size, backend)]["queries"][index]
            if q["rows"] is not None:
                rows.add(q["rows"])
            cell = f"{q['p50_ms']:,.1f} / {q['p95_ms']:,.1f} ({q['runs']})" if q["runs"] else ""
            cells.append(f"{cell} {q['error'][:60]}".strip() if q["error"] else cell)
        agreed = " ≠ ".join(map(str, sorted(rows))) if rows else "-"
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
    parser.add_argument(
        "--sizes",
        type=lambda text: sorted(set(iter_sizes(text))),
        default=[1000, 5000, 20000],
        help="comma-separated trial counts (default 1000,5000,20000)",
    )
    parser.add_argument("--rdflib-max", type=int, default=5000, help="largest size built with rdflib (slow)")
    parser.add_argument("--repeats", type=int, default=20, help="runs per query for Oxigraph")
    parser.add_argument("--rdflib-repeats", type=int, default=5, help="runs per query for rdflib")
    parser.add_argument(
        "--query-budget", type=float, default=2.0, help="stop repeating a query once its runs took this many seconds"
    )
    parser.add_argument(
        "--query-timeout", type=float, default=5.0, help="abandon a single query run after this many seconds"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="results folder")
    parser.add_argument(
        "--mesh", action="store_true", help="also load MeSH (../shared/data/mesh) in every build, as kg build --mesh"
    )
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
