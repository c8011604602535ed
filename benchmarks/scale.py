"""Registry-scale benchmark: synthetic registries of 10k, 100k (and 600k) trials built into on-disk Oxigraph,
with the rdflib in-memory baseline beside the smallest tier, measured in one run.

Per tier: generation time (``kg synth``), build wall time and throughput by phase, peak RSS of the build process
(and of its mapping processes together), store and related-index size on disk; then, in a fresh read-only process,
p50/p95 latency of every named query, MeSH ancestors, related trials and a landscape. Writes
``benchmarks/results/scale.json`` and ``scale.md`` (with a growth plot ``scale.png`` when matplotlib is installed).

    python benchmarks/scale.py [--tiers 10k,100k] [--with-600k] [--rdflib-max 10k] [--workers N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as shared  # benchmarks/run.py: its helpers, not twins of them

from kg.demo import demo_mesh_file
from kg.store import open_store

REPO: Final = shared.REPO
RESULTS: Final = REPO / "benchmarks" / "results"
SCRATCH: Final = RESULTS / "tmp"  # gitignored: corpora and stores never enter the repository
MESH: Final = shared.MESH_FILES if all(p.is_file() for p in shared.MESH_FILES) else [demo_mesh_file()]
SEED: Final = 20251114
LONG_TIER: Final = 600_000
#: Landscape and related-trial query parameters: Neoplasms (a top-level subtree, the largest landscape).
LANDSCAPE_CONDITION: Final = "D009369"
TARGETS: Final = {
    "build_600k_minutes": 15.0,
    "build_600k_peak_rss_gib": 3.0,
    "related_p95_ms": 50.0,
    "ancestors_p95_ms": 5.0,
    "landscape_seconds": 2.0,
}


def tier(text: str) -> int:
    """``10k``, ``100_000`` or ``1.5m`` as a number of trials."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


# --- generation -------------------------------------------------------------------------------------------------


def corpus(size: int) -> tuple[Path, dict[str, Any]]:
    """The tier's synthetic registry under ``results/tmp`` (reused when already written with the same settings)."""
    from kg.demo.registry import write_registry

    directory = SCRATCH / f"registry-{size}"
    manifest = SCRATCH / f"registry-{size}.manifest.json"  # beside the corpus: kg build reads every .json inside
    settings = {"trials": size, "seed": SEED, "mesh": [str(p) for p in MESH]}
    if manifest.is_file() and json.loads(manifest.read_text())["settings"] == settings:
        return directory, {**json.loads(manifest.read_text()), "reused": True}
    clock = shared.clocks()
    write_registry(directory, size, seed=SEED, mesh=MESH)
    wall, cpu = shared.since(clock)
    info = {"settings": settings, "seconds": wall, "cpu_seconds": cpu, "mib": shared.directory_mib(directory)}
    manifest.write_text(json.dumps(info), encoding="utf-8")
    return directory, {**info, "reused": False}


# --- subprocesses -----------------------------------------------------------------------------------------------


def tree_rss_mib(pid: int) -> float:
    """Resident set of a process and all its descendants now (the build and its mapping processes)."""
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
        try:
            status = (Path("/proc") / str(current) / "status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0) / 1024
    return total


def subprocess_job(kind: str, job: dict[str, Any], name: str) -> dict[str, Any]:
    """Run ``kind`` (build or queries) in a fresh interpreter: its own peak RSS (``wait4``) and, sampled twice a
    second, the peak RSS of its whole process tree."""
    job_file, result_file = SCRATCH / f"{name}.job.json", SCRATCH / f"{name}.result.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    result_file.unlink(missing_ok=True)
    clock = time.perf_counter()
    log_file = SCRATCH / f"{name}.log"
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, __file__, f"--{kind}-worker", str(job_file), str(result_file)], cwd=REPO, stderr=log
        )
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        logged = 100.0
        while not done.wait(0.5):
            now = tree_rss_mib(process.pid)
            peak[0] = max(peak[0], now)
            if now > logged * 1.25:  # a long run's log shows where memory went
                shared.log(f"{name}: process tree RSS {now:,.0f} MiB after {time.perf_counter() - clock:,.0f} s")
                logged = now

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    wall = time.perf_counter() - clock
    if process.returncode != 0 or not result_file.exists():
        stderr = log_file.read_text(encoding="utf-8", errors="replace")
        return {"error": f"exit {process.returncode}: {stderr.strip()[-1500:]}", "wall_seconds": wall}
    result = json.loads(result_file.read_text(encoding="utf-8"))
    return {
        **result,
        "wall_seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,  # the process and its mapping processes
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "peak_tree_rss_mib": peak[0],
    }


def build_worker(job: dict[str, Any]) -> dict[str, Any]:
    """One ``kg build`` (as the command runs it) with each phase timed and the peak RSS before the index."""
    import kg.pipeline.build
    import kg.pipeline.mesh_load

    phases: dict[str, float] = {}
    rss: dict[str, float] = {}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            clock = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - clock
                rss[f"after_{name}"] = shared.peak_rss_mib()
                shared.log(f"build phase {name}: {phases[name]:.0f} s, peak RSS so far {rss[f'after_{name}']:.0f} MiB")

        return call

    kg.pipeline.build.load_records = timed("read_map_load", kg.pipeline.build.load_records)
    kg.pipeline.build.load_mesh = timed("mesh_and_information_content", kg.pipeline.build.load_mesh)
    kg.pipeline.mesh_load.update_information_content = timed(
        "information_content", kg.pipeline.mesh_load.update_information_content
    )
    kg.pipeline.build.refresh_saved_indexes = timed("indexes", kg.pipeline.build.refresh_saved_indexes)
    clock = shared.clocks()
    count = itertools.count(1)

    def progress() -> None:  # a long build's log says how far it got
        if (done := next(count)) % 50_000 == 0:
            shared.log(f"read {done:,} records after {time.perf_counter() - clock[0]:,.0f} s")

    report = kg.pipeline.build.build(
        [job["corpus"]], job["spec"], mesh=[Path(p) for p in job["mesh"]], workers=job["workers"], on_record=progress
    )
    wall, cpu = shared.since(clock)
    phases["optimize_and_swap"] = report.seconds and wall - report.seconds - phases.get("indexes", 0.0)
    path = Path(job["spec"].partition(":")[2])
    indexes = list(path.parent.glob(path.name + ".*.pickle"))  # related trials, landscape fact table
    return {
        "trials": report.trials,
        "records": report.records,
        "problems": len(report.problems),
        "quads": report.quads,
        "build_seconds": wall,
        "build_cpu_seconds": cpu,  # this process only, not the mapping processes
        "phases": phases,
        "rss_checkpoints_mib": rss,
        "store_mib": shared.directory_mib(path),
        "index_mib": sum(index.stat().st_size for index in indexes) / 2**20 if indexes else None,
    }


def latencies(function: Callable[[], Any], repeats: int, budget: float) -> dict[str, Any]:
    """Time ``function`` up to ``repeats`` times (fewer once ``budget`` seconds are spent): first run, p50, p95."""
    times: list[float] = []  # ms
    while len(times) < repeats and sum(times) < 1000 * budget:
        clock = time.perf_counter()
        function()
        times.append((time.perf_counter() - clock) * 1000)
    return {
        "runs": len(times),
        "first_ms": times[0],
        "p50_ms": shared.percentile(times, 0.5),
        "p95_ms": shared.percentile(times, 0.95),
    }


def query_worker(job: dict[str, Any]) -> dict[str, Any]:
    """Latency on the built store, opened read-only as ``kg query`` opens it."""
    from kg.analysis.hierarchy import ancestors
    from kg.analysis.related import RELATED_INDEX, related

    rng = random.Random(job["seed"])
    out: dict[str, Any] = {}
    with open_store(job["spec"], read_only=True) as store:
        clock = time.perf_counter()
        index = RELATED_INDEX.load(store)
        out["related_index_load_seconds"] = time.perf_counter() - clock
        trials = rng.sample(index.ncts, min(job["samples"], len(index.ncts)))
        out["sample_trial"] = trials[0]
        out["queries"] = shared.time_queries(
            store, shared.query_cases(trials[0]), job["repeats"], job["budget"], job["timeout"]
        )
        concepts = [c for c in index.concepts if c.startswith("D")]
        picks = iter(rng.choices(concepts, k=10 * job["samples"]))
        out["ancestors"] = latencies(lambda: ancestors(store, [next(picks)]), job["samples"], job["budget"] * 5)
        queries = iter(trials * 10)
        out["related"] = latencies(lambda: related(store, next(queries), 20), job["samples"], job["budget"] * 10)
        try:
            from kg.analysis.landscape import landscape  # type: ignore[import-not-found, unused-ignore]
        except ImportError as missing:
            out["landscape"] = {"error": f"not measured: {missing}"}
        else:
            out["landscape"] = latencies(lambda: landscape(store, condition=LANDSCAPE_CONDITION), 5, 60.0)
            out["landscape_queries"] = latencies(  # the same tables by the nine named queries (remote engines)
                lambda: landscape(store, condition=LANDSCAPE_CONDITION, fast=False), 3, 20.0
            )
        out["rss_end_mib"] = shared.current_rss_mib()
    return out


# --- the run ----------------------------------------------------------------------------------------------------


def measure_tier(size: int, args: argparse.Namespace) -> dict[str, Any]:
    directory, generated = corpus(size)
    shared.log(f"{size:>9,} trials: corpus {'reused' if generated['reused'] else 'written'} at {directory}")
    result: dict[str, Any] = {"trials_requested": size, "generation": generated, "builds": {}}
    worker_counts = sorted({1, args.workers}) if size <= args.speedup_max else [args.workers]
    for workers in worker_counts:
        spec = f"oxigraph:{SCRATCH / f'store-{size}'}"
        job = {"corpus": str(directory), "spec": spec, "mesh": [str(p) for p in MESH], "workers": workers}
        build = subprocess_job("build", job, f"build-{size}-{workers}")
        result["builds"][str(workers)] = build
        shared.log(f"{size:>9,} trials: build with {workers} worker(s): {summary(build)}")
    job = {
        "spec": spec,
        "seed": size,
        "samples": args.samples,
        "repeats": args.repeats,
        "budget": args.query_budget,
        "timeout": args.query_timeout,
    }
    result["latency"] = subprocess_job("query", job, f"queries-{size}")
    shared.log(f"{size:>9,} trials: queries done in {result['latency'].get('wall_seconds', 0):.0f} s")
    if size <= args.rdflib_max:
        rdflib_job = {
            "backend": "rdflib-memory",
            "input": str(directory),
            "scratch": str(SCRATCH),
            "cases": shared.query_cases(result["latency"].get("sample_trial", "NCT99000001")),
            "repeats": args.rdflib_repeats,
            "budget": args.query_budget,
            "timeout": args.query_timeout,
            "mesh": MESH == shared.MESH_FILES,
        }
        result["rdflib"] = shared.run_worker(rdflib_job, SCRATCH)
        shared.log(f"{size:>9,} trials: rdflib baseline: {shared.summary(result['rdflib'])}")
    return result


def summary(build: dict[str, Any]) -> str:
    if "error" in build:
        return f"FAILED {build['error'][-300:]}"
    return (
        f"{build['build_seconds']:.0f} s, {build['trials'] / build['build_seconds']:.0f} trials/s, "
        f"peak {build['peak_rss_mib']:.0f} MiB (tree {build['peak_tree_rss_mib']:.0f}), "
        f"store {build['store_mib']:.0f} MiB"
    )


# --- the report -------------------------------------------------------------------------------------------------


def _ok(value: float | None, limit: float) -> str:
    if value is None:
        return "not measured"
    return f"{'met' if value <= limit else '**missed**'} ({value:,.2f} vs ≤ {limit:g})"


def _main_build(t: dict[str, Any]) -> dict[str, Any]:
    """The tier's build with the most workers (the default configuration)."""
    if not t["builds"]:
        return {"error": "did not finish"}
    return t["builds"][max(t["builds"], key=int)]


def _cell(q: dict[str, Any] | None) -> str:
    if not q:
        return "-"
    if q.get("error") and not q.get("runs"):
        return str(q["error"])[:40]
    return f"{q['p50_ms']:,.1f} / {q['p95_ms']:,.1f}"


def growth(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per tier the figures a growth curve needs (only tiers whose build succeeded)."""
    rows = []
    for t in results["tiers"]:
        b, lat = _main_build(t), t.get("latency", {})
        if "error" in b:
            continue
        rows.append(
            {
                "trials": b["trials"],
                "build_s": b["build_seconds"],
                "peak_rss_mib": b["peak_rss_mib"],
                "tree_rss_mib": b["peak_tree_rss_mib"],
                "store_mib": b["store_mib"],
                "related_p95_ms": lat.get("related", {}).get("p95_ms"),
                "ancestors_p95_ms": lat.get("ancestors", {}).get("p95_ms"),
            }
        )
    return rows


def plot(results: dict[str, Any], path: Path) -> bool:
    """Build time, peak RSS and store size against trials on log-log axes, with the linear reference."""
    rows = growth(results)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if len(rows) < 2:
        return False
    trials = [r["trials"] for r in rows]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in (("build_s", "build s"), ("peak_rss_mib", "peak RSS MiB"), ("store_mib", "store MiB")):
        axes[0].plot(trials, [r[key] for r in rows], marker="o", label=label)
    axes[0].plot(trials, [rows[0]["build_s"] * n / trials[0] for n in trials], "k:", label="linear (build s)")
    for key, label in (("related_p95_ms", "related p95 ms"), ("ancestors_p95_ms", "ancestors p95 ms")):
        axes[1].plot(trials, [r[key] or float("nan") for r in rows], marker="o", label=label)
    for axis, title in zip(axes, ("Build cost", "Query latency"), strict=True):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("trials (synthetic registry)")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(f"kg at registry scale · {results['date'][:10]} · {results['machine']['nproc']} cores (shared)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def report(results: dict[str, Any], plotted: bool) -> str:
    m = results["machine"]
    tiers = results["tiers"]
    lines = [
        "# kg at registry scale",
        "",
        f"{results['date']} · {m['cpu_model']} · {m['nproc']} CPUs · {m['memory_gib']} GiB · Python {m['python']} · "
        f"pyoxigraph {m['packages']['pyoxigraph']} · rdflib {m['packages']['rdflib']} · commit {m['git_commit'][:10]} "
        f"(plus uncommitted work) · load average {m['load_average_start'][0]:.1f} → {m['load_average_end'][0]:.1f}",
        "",
        "**Shared machine**: other work (up to six other sessions' tests and benchmarks) ran on the same 2 cores "
        "during this run, so wall times are pessimistic and noisy; the load averages above show how busy it was.",
        "",
        f"Command: `{results['command']}`. Input: synthetic registries from `kg synth` (seed {SEED}; conditions and "
        f"interventions drawn over {', '.join(results['mesh'])}; every record marked synthetic). Every build is "
        "`kg build` on a fresh on-disk Oxigraph store with the same MeSH files, in its own process; latency is "
        "measured afterwards in another process on the store opened read-only. See `benchmarks/README.md`.",
        "",
        "Tiers (each finished at the time given, by the command given, with the 1-minute load average at its start "
        "and end):",
        "",
        *(
            f"- {t['trials_requested']:,}: {t.get('measured', '?')}, `{t.get('command', '?')}`, load "
            + " → ".join(f"{x:.1f}" for x in t.get("load_average", []))
            for t in tiers
        ),
        "",
        "## Build",
        "",
        "`build s` is wall time; `CPU s` adds the CPU time of the build and its mapping processes (steadier than "
        "wall time on a busy machine). Phases: reading, mapping and loading the records; loading MeSH and computing "
        "information content (IC alone in brackets); compacting the store and swapping it in; the related-trials "
        "index and the landscape fact table, saved beside the store.",
        "",
        "| trials | workers | quads | generate s | build s | CPU s | trials/s | read+map+load s | MeSH+IC s | "
        "optimize+swap s | indexes s | peak RSS MiB (build process) | peak RSS MiB (with mapping processes) "
        "| store MiB | indexes MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in tiers:
        for workers, b in sorted(t["builds"].items(), key=lambda item: int(item[0])):
            if "error" in b:
                lines.append(f"| {t['trials_requested']:,} | {workers} | failed: {b['error'][-200:]} |" + " |" * 12)
                continue
            p = b["phases"]
            g = t["generation"]
            lines.append(
                f"| {b['trials']:,} | {workers} | {b['quads']:,} | {g.get('seconds', 0):.0f} | "
                f"{b['build_seconds']:,.0f} | {b['cpu_seconds']:,.0f} | {b['trials'] / b['build_seconds']:,.0f} | "
                f"{p.get('read_map_load', 0):,.0f} | {p.get('mesh_and_information_content', 0):,.0f} "
                f"({p.get('information_content', 0):,.0f}) | "
                f"{p.get('optimize_and_swap', 0):,.0f} | {p.get('indexes', 0):,.0f} | "
                f"{b['peak_rss_mib']:,.0f} | {b['peak_tree_rss_mib']:,.0f} | {b['store_mib']:,.0f} | "
                f"{b['index_mib'] or 0:,.0f} |"
            )
    speedups = [
        (t, t["builds"]["1"], _main_build(t))
        for t in tiers
        if "1" in t["builds"] and len(t["builds"]) > 1 and not any("error" in b for b in t["builds"].values())
    ]
    if speedups:
        lines += ["", "## Parallel build: speedup", ""]
        for t, one, many in speedups:
            lines.append(
                f"- {t['trials_requested']:,} trials: {one['build_seconds']:,.0f} s with 1 worker → "
                f"{many['build_seconds']:,.0f} s with {max(t['builds'], key=int)} "
                f"(**{one['build_seconds'] / many['build_seconds']:.2f}x**); reading, mapping and loading alone "
                f"{one['phases']['read_map_load']:,.0f} s → {many['phases']['read_map_load']:,.0f} s "
                f"({one['phases']['read_map_load'] / many['phases']['read_map_load']:.2f}x)."
            )
    lines += [
        "",
        "## Latency",
        "",
        "p50 / p95 in ms (nearest rank) on the on-disk store; rdflib in memory where built.",
        "",
    ]
    header = "| query | " + " | ".join(f"{t['trials_requested']:,}" for t in tiers)
    rdflib_tiers = [t for t in tiers if "rdflib" in t and "error" not in t["rdflib"]]
    header += "".join(f" | rdflib {t['trials_requested']:,} | rdflib / Oxigraph p50" for t in rdflib_tiers)
    lines += [header + " |", "|---|" + "---:|" * (len(tiers) + 2 * len(rdflib_tiers))]
    # by label: the named queries can differ between tiers measured on different days
    by_label = [{q["label"]: q for q in t.get("latency", {}).get("queries", [])} for t in tiers]
    rdflib_by_label = [{q["label"]: q for q in t["rdflib"]["queries"]} for t in rdflib_tiers]
    labels = list(dict.fromkeys(label for table in by_label for label in table))
    for label in labels:
        cells = [_cell(table.get(label)) for table in by_label]
        for t, table in zip(rdflib_tiers, rdflib_by_label, strict=True):
            r = table.get(label, {})
            o = by_label[tiers.index(t)].get(label, {})
            ratio = f"{r['p50_ms'] / o['p50_ms']:,.0f}x" if r.get("runs") and o.get("runs") else "-"
            cells += [_cell(r) if r.get("runs") else str(r.get("error", "-"))[:40], ratio]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for key, label in (("ancestors", "ancestors (kg ancestors, one random descriptor)"),
                       ("related", "related trials (kg related, top 20, random trials)"),
                       ("landscape", f"landscape (condition {LANDSCAPE_CONDITION}, Neoplasms; fact table)"),
                       ("landscape_queries", "landscape (the same, by the nine named queries)")):  # fmt: skip
        cells = [_cell(t.get("latency", {}).get(key)) for t in tiers]
        lines.append(f"| {label} | " + " | ".join(cells) + " | -" * (2 * len(rdflib_tiers)) + " |")
    index_loads = [f"{t['latency']['related_index_load_seconds']:.2f} s" for t in tiers if "latency" in t
                   and "related_index_load_seconds" in t["latency"]]  # fmt: skip
    lines += ["", f"Loading the saved related-trials index on first use: {', '.join(index_loads)} by tier."]
    for t in rdflib_tiers:
        r, b = t["rdflib"], _main_build(t)
        lines += [
            "",
            f"rdflib baseline at {t['trials_requested']:,} trials (same corpus, same MeSH, same named queries): build "
            f"{r['seconds']:,.0f} s vs Oxigraph's {b['build_seconds']:,.0f} s "
            f"(**{r['seconds'] / b['build_seconds']:.1f}x**),"
            f" peak RSS {r['rss_build_peak_mib']:,.0f} MiB vs {b['peak_rss_mib']:,.0f} MiB.",
        ]
    rows = growth(results)
    if len(rows) > 1:
        lines += [
            "",
            "## Growth",
            "",
            "Each figure relative to the smallest tier; linear growth means the cost ratio follows the trials ratio.",
            "",
            "| trials | trials ratio | build s ratio | peak RSS ratio | store MiB ratio | build ms per trial "
            "| related p95 ms | ancestors p95 ms |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        base = rows[0]
        for r in rows:
            lines.append(
                f"| {r['trials']:,} | {r['trials'] / base['trials']:.0f} | {r['build_s'] / base['build_s']:.1f} | "
                f"{r['peak_rss_mib'] / base['peak_rss_mib']:.1f} | {r['store_mib'] / base['store_mib']:.1f} | "
                f"{1000 * r['build_s'] / r['trials']:.2f} | {r['related_p95_ms'] or 0:.1f} | "
                f"{r['ancestors_p95_ms'] or 0:.2f} |"
            )
        if plotted:
            lines += ["", "![growth](scale.png)"]
    for t in tiers:
        if "partial" in t:
            lines += ["", f"## {t['trials_requested']:,} trials: stopped before the end", "", t["partial"]["note"], ""]
            lines += [f"    {line}" for line in t["partial"]["log"]]
    lines += ["", "## Targets", ""]
    largest = tiers[-1] if tiers else None
    long_tier = next((t for t in tiers if t["trials_requested"] >= LONG_TIER), None)
    if long_tier and "error" not in _main_build(long_tier):
        b = _main_build(long_tier)
        lines.append(f"- 600k build ≤ 15 min: {_ok(b['build_seconds'] / 60, TARGETS['build_600k_minutes'])} min")
        lines.append(
            f"- 600k peak RSS ≤ 3 GiB: {_ok(b['peak_rss_mib'] / 1024, TARGETS['build_600k_peak_rss_gib'])} GiB "
            f"(build process; with its mapping processes {b['peak_tree_rss_mib'] / 1024:.2f} GiB)"
        )
    elif long_tier and "partial" in long_tier:
        lines.append(f"- 600k build ≤ 15 min, peak RSS ≤ 3 GiB: **missed**; {long_tier['partial'].get('verdict', '')}")
    else:
        lines.append("- 600k build: not measured in this run (`--with-600k`)")
    if largest is not None:
        lat = largest.get("latency", {})
        size = f"at {largest['trials_requested']:,}"
        lines.append(f"- related p95 ≤ 50 ms {size}: {_ok(lat.get('related', {}).get('p95_ms'), 50)} ms")
        lines.append(f"- ancestors p95 ≤ 5 ms {size}: {_ok(lat.get('ancestors', {}).get('p95_ms'), 5)} ms")
        land = lat.get("landscape", {})
        value = land["p95_ms"] / 1000 if "p95_ms" in land else None
        lines.append(f"- landscape ≤ 2 s {size}: {_ok(value, 2) if value is not None else land.get('error', '-')} s")
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], measured: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Write the JSON, Markdown and plot; with ``--keep``, the tiers of the file on disk that this run does not
    measure are kept (read again at each write, so another run adding tiers meanwhile is not overwritten)."""
    path = args.out / "scale.json"
    kept: list[dict[str, Any]] = []
    if args.keep and path.is_file():
        mine = {t["trials_requested"] for t in measured}
        kept = [
            {**t, "measured": t.get("measured", "an earlier run")}
            for t in json.loads(path.read_text(encoding="utf-8"))["tiers"]
            if t["trials_requested"] not in mine
        ]
    results["tiers"] = sorted(kept + measured, key=lambda t: t["trials_requested"])
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    plotted = plot(results, args.out / "scale.png")
    (args.out / "scale.md").write_text(report(results, plotted), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiers", type=lambda t: [tier(x) for x in t.split(",")], default=[10_000, 100_000])
    parser.add_argument("--with-600k", action="store_true", help="add the long 600k tier (about an hour)")
    parser.add_argument("--rdflib-max", type=tier, default=10_000, help="largest tier also built with rdflib")
    parser.add_argument("--speedup-max", type=tier, default=10_000, help="largest tier also built with 1 worker")
    parser.add_argument("--workers", type=int, default=None, help="mapping processes (default: kg build's)")
    parser.add_argument("--samples", type=int, default=200, help="random trials / concepts per latency figure")
    parser.add_argument("--repeats", type=int, default=20, help="runs per named query")
    parser.add_argument("--rdflib-repeats", type=int, default=5)
    parser.add_argument("--query-budget", type=float, default=2.0, help="stop repeating a query after this many s")
    parser.add_argument("--query-timeout", type=float, default=10.0, help="abandon one query run after this many s")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the other tiers of an earlier scale.json in --out")
    parser.add_argument("--build-worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--query-worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for kind, worker in (("build", build_worker), ("query", query_worker)):
        files = getattr(args, f"{kind}_worker")
        if files:
            result = worker(json.loads(Path(files[0]).read_text(encoding="utf-8")))
            Path(files[1]).write_text(json.dumps(result), encoding="utf-8")
            return
    from kg.pipeline.build import default_workers

    args.workers = args.workers or default_workers()
    tiers = sorted(set(args.tiers) | ({LONG_TIER} if args.with_600k else set()))
    SCRATCH.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": shared.machine(),
        "command": "python benchmarks/scale.py " + " ".join(sys.argv[1:]),
        "settings": {
            **{k: v for k, v in vars(args).items() if k != "out" and not k.endswith("_worker")},
            "tiers": tiers,
        },
        "mesh": [str(p.relative_to(REPO.parent)) if REPO.parent in p.parents else p.name for p in MESH],
        "targets": TARGETS,
        "tiers": [],
    }
    measured: list[dict[str, Any]] = []
    for size in tiers:
        load_start = os.getloadavg()[0]
        tier_result = measure_tier(size, args)
        tier_result |= {
            "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": results["command"],
            "load_average": [load_start, os.getloadavg()[0]],
        }
        measured.append(tier_result)
        results["machine"]["load_average_end"] = os.getloadavg()
        write(results, measured, args)
    shared.log(f"wrote {args.out / 'scale.json'} and {args.out / 'scale.md'}")


if __name__ == "__main__":
    main()
