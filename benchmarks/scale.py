"""Registry-scale benchmark: synthetic registries of 10k, 100k (and 600k) trials built into on-disk Oxigraph,
with the rdflib in-memory baseline beside the smallest tier, measured in one run.

Per tier: generation time (``kg synth``), build wall time and throughput by phase, peak RSS of the build process
(and of its mapping and index processes together), store and index sizes on disk; then, in a fresh read-only
process, the explorer page of trials drawn cold, p50/p95 latency of every named query as ``kg query`` answers it and
by its SPARQL (with whether both give the same rows), MeSH ancestors, related trials and a landscape. Writes
``OUT/scale.json`` and ``scale.md`` (with a growth plot ``scale.png`` when matplotlib is installed), every target of
issue 18 marked met or missed. Corpora and built stores stay under ``OUT/tmp`` (``--scratch``) for later benchmarks
against them.

    python benchmarks/scale.py [--tiers 10k,100k] [--with-600k] [--rdflib-max 10k] [--workers N] [--out DIR]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as shared  # benchmarks/run.py: its helpers, not twins of them

from kg.analysis.related import RelatedIndex
from kg.demo import demo_mesh_file
from kg.queries import list_queries, run
from kg.store import QueryResult, Store, open_store
from kg.web.app import PAGE_DEPTH

REPO: Final = shared.REPO
RESULTS: Final = REPO / "benchmarks" / "results"
MESH: Final = shared.MESH_FILES if all(p.is_file() for p in shared.MESH_FILES) else [demo_mesh_file()]
SEED: Final = 20251114
LONG_TIER: Final = 600_000
#: Landscape and related-trial query parameters: Neoplasms (a top-level subtree, the largest landscape).
LANDSCAPE_CONDITION: Final = "D009369"
#: Issue 18's targets (and the earlier ones it keeps), each judged on the 600k tier.
TARGETS: Final = {
    "build_600k_minutes": 15.0,
    "build_600k_peak_rss_gib": 3.0,
    "named_query_p95_seconds": 2.0,  # every named query, as `kg query` answers it
    "bound_query_p95_ms": 200.0,  # a query bound to one trial, or to one concept with a modest answer
    "explorer_cold_seconds": 1.0,  # the explorer page of a trial at depth 2, its first request in the process
    "related_p95_ms": 50.0,
    "ancestors_p95_ms": 5.0,
    "landscape_seconds": 2.0,
}
#: Named queries bound to one concept whose answer is modest (held to the bound-query target, like those bound to a
#: trial); ``trials_under`` joins them with :data:`MODEST_LABEL`, its concept picked per tier by :func:`modest_concept`.
CONCEPT_BOUND: Final = frozenset({"ancestors", "descendants", "concepts_by_label", "trial_hierarchy"})
MODEST_LABEL: Final = "trials_under (modest concept)"
#: How the named queries join a list into one value (``GROUP_CONCAT(…; separator=" | ")``).
LIST_SEPARATOR: Final = " | "
#: Trials at or under the concept ``trials_under`` is timed with for the bound-query target.
MODEST_TRIALS: Final = 100
#: Trials whose explorer page is drawn cold (each the first request for it in the process), and at what depth: the
#: target's (a page written to a file embeds two hops) and the page ``kg serve`` draws (one; it answers each
#: further Expand on request).
EXPLORER_TRIALS: Final = 20
EXPLORER_DEPTH: Final = 2
SERVED_DEPTH: Final = PAGE_DEPTH


def tier(text: str) -> int:
    """``10k``, ``100_000`` or ``1.5m`` as a number of trials."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


# --- generation -------------------------------------------------------------------------------------------------


def corpus(size: int, scratch: Path) -> tuple[Path, dict[str, Any]]:
    """The tier's synthetic registry under ``scratch`` (reused when already written with the same settings)."""
    from kg.demo.registry import write_registry

    directory = scratch / f"registry-{size}"
    manifest = scratch / f"registry-{size}.manifest.json"  # beside the corpus: kg build reads every .json inside
    settings = {"trials": size, "seed": SEED, "mesh": [str(p) for p in MESH]}
    if manifest.is_file():
        kept = json.loads(manifest.read_text())
        if kept["settings"] == settings:
            return directory, {**kept, "reused": True}
        written = kept["settings"]
        changed = ", ".join(
            f"{key} {written.get(key)} → {value}" for key, value in settings.items() if value != written.get(key)
        )
        shared.log(f"the corpus at {directory} was written with other settings ({changed}): writing it again")
    clock = shared.clocks()
    write_registry(directory, size, seed=SEED, mesh=MESH)
    wall, cpu = shared.since(clock)
    info = {"settings": settings, "seconds": wall, "cpu_seconds": cpu, "mib": shared.directory_mib(directory)}
    manifest.write_text(json.dumps(info), encoding="utf-8")
    return directory, {**info, "reused": False}


# --- subprocesses -----------------------------------------------------------------------------------------------


def subprocess_job(kind: str, job: dict[str, Any], name: str, scratch: Path) -> dict[str, Any]:
    """Run ``kind`` (build or queries) in a fresh interpreter: its own peak RSS (``wait4``) and, sampled twice a
    second, the peak RSS of its whole process tree."""
    job_file, result_file = scratch / f"{name}.job.json", scratch / f"{name}.result.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    result_file.unlink(missing_ok=True)
    clock = time.perf_counter()
    log_file = scratch / f"{name}.log"
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, __file__, f"--{kind}-worker", str(job_file), str(result_file)], cwd=REPO, stderr=log
        )
    with shared.tree_peak(process.pid, name=name) as peak:
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - clock
    if process.returncode != 0 or not result_file.exists():
        stderr = log_file.read_text(encoding="utf-8", errors="replace")
        return {"error": f"exit {process.returncode}: {stderr.strip()[-1500:]}", "wall_seconds": wall}
    result = json.loads(result_file.read_text(encoding="utf-8"))
    return {
        **result,
        "wall_seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,  # the process and its mapping and index processes
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "peak_tree_rss_mib": peak[0],
    }


def build_worker(job: dict[str, Any]) -> dict[str, Any]:
    """One ``kg build`` (as the command runs it) with each phase timed and the peak RSS before the index, then the
    index files it wrote beside the store and what each index's refresh took."""
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
    indexes = index_files(path)
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
        "index_mib": sum(indexes.values()) if indexes else None,
        "index_files_mib": indexes,
        "index_seconds": report.index_seconds,  # each index's refresh, in its own process at scale
    }


def index_files(store: Path) -> dict[str, float]:
    """MiB of each file beside a store (``store-N.related.pickle``, a search index…; all the build's, since
    :func:`clear_store` ran before it), by the part of its name after the store's: what the saved indexes cost."""
    prefix = store.name + "."
    return {
        file.name.removeprefix(prefix): shared.directory_mib(file) if file.is_dir() else file.stat().st_size / 2**20
        for file in sorted(store.parent.glob(prefix + "*"))
    }


def stats(ms: list[float]) -> dict[str, Any]:
    """Runs, first run, p50, p95 and slowest of some timings in ms."""
    return {
        "runs": len(ms),
        "first_ms": ms[0],
        "p50_ms": shared.percentile(ms, 0.5),
        "p95_ms": shared.percentile(ms, 0.95),
        "max_ms": max(ms),
    }


def latencies(function: Callable[[], Any], repeats: int, budget: float) -> dict[str, Any]:
    """Time ``function`` up to ``repeats`` times (fewer once ``budget`` seconds are spent): first run, p50, p95."""
    times: list[float] = []  # ms
    while len(times) < repeats and sum(times) < 1000 * budget:
        clock = time.perf_counter()
        function()
        times.append((time.perf_counter() - clock) * 1000)
    return stats(times)


def answering() -> tuple[shared.Runner, Collection[str], str | None]:
    """What ``kg query`` runs (``kg.analysis.answers.answer``), the queries it answers from an index, and a note
    when it cannot be imported (then ``answer`` is the SPARQL, and the report says so)."""
    try:
        from kg.analysis.answers import FAST_QUERIES, answer
    except ImportError as missing:
        return run, frozenset(), f"kg.analysis.answers could not be imported ({missing}): `answer` ran the SPARQL"
    return answer, frozenset(FAST_QUERIES), None


def modest_concept(index: RelatedIndex) -> str | None:
    """The MeSH descriptor with about :data:`MODEST_TRIALS` trials at or under it (from its information content,
    ``-ln(trials / all trials)``): ``trials_under`` of it is a query bound to one concept with a modest answer."""
    trials = len(index.ncts)
    scored = [
        (abs(trials * math.exp(-ic) - MODEST_TRIALS), ui)
        for ui, ic in zip(index.concepts, index.ic, strict=True)
        if ui.startswith("D") and math.isfinite(ic)
    ]
    return min(scored)[1] if scored else None


def _row_keys(result: QueryResult, *, sort_lists: bool = False) -> Counter[tuple[tuple[str, str, Any], ...]]:
    """The rows as a multiset, each value with its type (``1`` and ``1.0`` and ``True`` differ); ``sort_lists``: with
    the parts of each ``" | "``-joined text (the named queries' ``GROUP_CONCAT``) sorted."""

    def value(v: Any) -> Any:
        return LIST_SEPARATOR.join(sorted(v.split(LIST_SEPARATOR))) if sort_lists and isinstance(v, str) else v

    return Counter(
        tuple((name, type(row.get(name)).__name__, value(row.get(name))) for name in result.variables)
        for row in result.rows
    )


def differences(mine: QueryResult, sparql: QueryResult) -> tuple[str | None, str | None]:
    """What differs between the index's answer and the SPARQL's (None when they have the same variables and rows, order
    aside: ties in ORDER BY may fall either way), and a note when they differ only in the order of ``GROUP_CONCAT``
    lists, which SPARQL leaves undefined."""
    if mine.variables != sparql.variables:
        return f"variables {mine.variables} vs SPARQL {sparql.variables}", None
    if _row_keys(mine) == _row_keys(sparql):
        return None, None
    ours, theirs = _row_keys(mine, sort_lists=True), _row_keys(sparql, sort_lists=True)
    if ours == theirs:
        return None, f"same rows once {LIST_SEPARATOR!r}-joined lists are sorted (GROUP_CONCAT has no defined order)"
    only_ours, only_theirs = ours - theirs, theirs - ours
    parts = [
        f"{sum(only_ours.values())} rows only from answer, {sum(only_theirs.values())} only from SPARQL, of "
        f"{len(mine.rows)} / {len(sparql.rows)} (lists sorted)"
    ]
    # rows told apart by their first value (an NCT id, a phase…): what changed in one, which are on one side only
    first = mine.variables[0] if mine.variables else "?"
    by_ours = {row[0][2]: row for row in only_ours if row}
    by_theirs = {row[0][2]: row for row in only_theirs if row}
    paired = next((key for key in by_ours if key in by_theirs), None)
    if paired is not None:
        changed = [
            f"{name} {a!r} vs {b!r}" for (name, _, a), (_, _, b) in zip(by_ours[paired], by_theirs[paired], strict=True)
            if (type(a), a) != (type(b), b)
        ]  # fmt: skip
        parts.append(f"e.g. {first}={paired}: {'; '.join(changed)}")
    for side, rows, other in (("answer", by_ours, by_theirs), ("SPARQL", by_theirs, by_ours)):
        lone = [str(key) for key in rows if key not in other]
        if lone:
            parts.append(f"{first} only from {side}: {', '.join(lone[:5])}{' …' if len(lone) > 5 else ''}")
    return "; ".join(parts)[:800], None


def both_ways(
    store: Store, case: dict[str, Any], job: dict[str, Any], answer: shared.Runner, fast: bool
) -> dict[str, Any]:
    """One case timed as ``kg query`` answers it and by its SPARQL, with whether both give the same rows. Without a
    fast path ``answer`` runs the SPARQL itself: timed once, the same figures under both names."""
    limits = (job["repeats"], job["budget"], job["timeout"])
    fields = ("runs", "rows", "error", "first_ms", "p50_ms", "p95_ms")
    kept: dict[str, QueryResult] = {}
    (by_answer,) = shared.time_queries(store, [case], *limits, runner=answer, keep=kept if fast else None)
    out = {**case, "fast": fast, "answer": {k: by_answer[k] for k in fields}, "agree": None}
    if not fast:
        return out | {"sparql": out["answer"]}
    mine = kept.pop(case["label"], None)
    (by_sparql,) = shared.time_queries(store, [case], *limits, keep=kept)
    out["sparql"] = {k: by_sparql[k] for k in fields}
    if case["label"] in kept:  # the SPARQL finished within the timeout: its rows are the reference
        problem, note = (
            differences(mine, kept[case["label"]]) if mine else (f"answer failed: {by_answer['error']}", None)
        )
        out |= {"agree": problem is None, "disagreement": problem, "agree_note": note}
        if problem:
            shared.log(f"DISAGREE {case['label']}: {problem}")
    return out


def explorer_pages(store: Store, ncts: list[str], budget: float, depth: int) -> dict[str, Any]:
    """The explorer page at ``depth`` (``render_explorer``: its data, then the HTML) for trials never drawn before in
    this process. The first page pays the process's one-off work (templates, the first reads) and is reported apart;
    the others stop once ``budget`` seconds are spent."""
    from kg.views.collector import COLLECTOR_PAUSED
    from kg.views.explorer import render_page
    from kg.views.explorer_data import explorer_data

    data_ms: list[float] = []
    page_ms: list[float] = []
    for nct in ncts:
        if len(page_ms) > 1 and sum(page_ms[1:]) > 1000 * budget:
            break
        clock = time.perf_counter()
        with COLLECTOR_PAUSED:  # as render_explorer draws a page, timed in two parts
            data = explorer_data(store, nct, depth=depth)
            drawn = time.perf_counter()
            render_page(data, api_base="/api")
            del data
        data_ms.append((drawn - clock) * 1000)
        page_ms.append((time.perf_counter() - clock) * 1000)
    if len(page_ms) < 2:
        return {"error": f"not measured: {len(ncts)} trials to draw"}
    return {
        "depth": depth,
        "first_trial": ncts[0],
        "first_page_ms": page_ms[0],
        "trials": ncts[1 : len(page_ms)],
        "page": stats(page_ms[1:]),
        "data": stats(data_ms[1:]),
    }


def query_worker(job: dict[str, Any]) -> dict[str, Any]:
    """Latency on the built store, opened read-only as ``kg query`` opens it: the saved indexes loaded first (timed
    apart), then the explorer's cold pages, the named queries both ways, ancestors, related trials, a landscape."""
    from kg.analysis.hierarchy import ancestors
    from kg.analysis.indexes import SAVED_INDEXES
    from kg.analysis.related import RELATED_INDEX, related

    rng = random.Random(job["seed"])
    out: dict[str, Any] = {"index_load_seconds": {}}
    with open_store(job["spec"], read_only=True) as store:
        for kind in SAVED_INDEXES:
            clock = time.perf_counter()
            kind.load(store)
            out["index_load_seconds"][kind.name] = time.perf_counter() - clock
        out["related_index_load_seconds"] = out["index_load_seconds"][RELATED_INDEX.name]
        index = RELATED_INDEX.load(store)
        drawn = 2 * (EXPLORER_TRIALS + 1)
        picked = rng.sample(index.ncts, min(job["samples"] + drawn, len(index.ncts)))
        cold, trials = picked[:drawn], picked[drawn:] or picked
        for key, depth, pages in (
            ("explorer_served", SERVED_DEPTH, cold[::2]),
            ("explorer", EXPLORER_DEPTH, cold[1::2]),
        ):
            out[key] = explorer_pages(store, pages, job["budget"] * 60, depth)
            shared.log(f"explorer pages at depth {depth} done: {out[key].get('page', out[key])}")
        out["sample_trial"] = trials[0]
        answer, fast, out["answer_note"] = answering()
        cases = shared.query_cases(trials[0])
        out["modest_concept"] = modest_concept(index)
        if out["modest_concept"]:
            cases.append({"label": MODEST_LABEL, "query": "trials_under", "params": {"concept": out["modest_concept"]}})
        out["queries"] = [both_ways(store, case, job, answer, case["query"] in fast) for case in cases]
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


def clear_store(store: Path) -> None:
    """Remove an earlier build's store and the indexes beside it, so each build is a fresh one: ``kg build`` over an
    existing store would also compare every trial with it (change events), which is not the cost measured here."""
    for path in [store, *store.parent.glob(store.name + ".*")]:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def measure_tier(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Generate (or reuse) the tier's corpus, build it (the last build, with the most workers, is kept), then time
    queries on it in another process, and the rdflib baseline for small tiers."""
    store = args.scratch / f"store-{size}"
    spec = f"oxigraph:{store}"
    if args.queries_only:
        return queries_only(size, spec, args)
    directory, generated = corpus(size, args.scratch)
    shared.log(f"{size:>9,} trials: corpus {'reused' if generated['reused'] else 'written'} at {directory}")
    result: dict[str, Any] = {"trials_requested": size, "generation": generated, "builds": {}}
    worker_counts = sorted({1, args.workers}) if size <= args.speedup_max else [args.workers]
    for workers in worker_counts:
        clear_store(store)
        job = {"corpus": str(directory), "spec": spec, "mesh": [str(p) for p in MESH], "workers": workers}
        build = subprocess_job("build", job, f"build-{size}-{workers}", args.scratch)
        result["builds"][str(workers)] = build
        shared.log(f"{size:>9,} trials: build with {workers} worker(s): {summary(build)}")
    result["latency"] = query_job(size, spec, args)
    if size <= args.rdflib_max:
        rdflib_job = {
            "backend": "rdflib-memory",
            "input": str(directory),
            "scratch": str(args.scratch),
            "cases": shared.query_cases(result["latency"].get("sample_trial", "NCT99000001")),
            "repeats": args.rdflib_repeats,
            "budget": args.query_budget,
            "timeout": args.query_timeout,
            "mesh": MESH == shared.MESH_FILES,
        }
        result["rdflib"] = shared.run_worker(rdflib_job, args.scratch)
        shared.log(f"{size:>9,} trials: rdflib baseline: {shared.summary(result['rdflib'])}")
    return result


def query_job(size: int, spec: str, args: argparse.Namespace) -> dict[str, Any]:
    """The query measurement of a built store, in a fresh process."""
    job = {
        "spec": spec,
        "seed": size,
        "samples": args.samples,
        "repeats": args.repeats,
        "budget": args.query_budget,
        "timeout": args.query_timeout,
    }
    latency = subprocess_job("query", job, f"queries-{size}", args.scratch)
    shared.log(f"{size:>9,} trials: queries done in {latency.get('wall_seconds', 0):.0f} s; store kept at {spec}")
    for q in latency.get("queries", []):
        if q.get("agree") is False:
            shared.log(f"{size:>9,} trials: answer and SPARQL DISAGREE on {q['label']}: {q['disagreement']}")
    return latency


def queries_only(size: int, spec: str, args: argparse.Namespace) -> dict[str, Any]:
    """``--queries-only``: the query measurement again on the store an earlier run built (the saved indexes it lacks
    or holds in an older format are rebuilt on loading, timed with the loads); the build figures, corpus and rdflib
    baseline stay those of the earlier run's tier in ``OUT/scale.json``, marked with its date."""
    if not Path(spec.removeprefix("oxigraph:")).is_dir():
        raise SystemExit(f"--queries-only: no store at {spec}; build it first (without --queries-only)")
    path = args.out / "scale.json"
    earlier = json.loads(path.read_text(encoding="utf-8"))["tiers"] if path.is_file() else []
    before = next((t for t in earlier if t["trials_requested"] == size), {})
    kept = {key: before[key] for key in ("generation", "builds", "rdflib") if key in before}
    return {
        "trials_requested": size,
        "generation": {},
        "builds": {},
        **kept,
        "builds_measured": before.get("builds_measured", before.get("measured", "not recorded"))
        if before
        else "not in OUT/scale.json",
        "latency": query_job(size, spec, args),
    }


def summary(build: dict[str, Any]) -> str:
    if "error" in build:
        return f"FAILED {build['error'][-300:]}"
    return (
        f"{build['build_seconds']:.0f} s, {build['trials'] / build['build_seconds']:.0f} trials/s, "
        f"peak {build['peak_rss_mib']:.0f} MiB (tree {build['peak_tree_rss_mib']:.0f}), "
        f"store {build['store_mib']:.0f} MiB"
    )


# --- the report -------------------------------------------------------------------------------------------------


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


def _timings(q: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """A case's timing as ``kg query`` answers it and by its SPARQL. A tier measured before both were has one flat
    timing, of the SPARQL (what ``kg query`` ran then), and no ``answer`` timing."""
    if "answer" in q:
        return q["answer"], q["sparql"]
    return None, q


@functools.cache
def _trial_bound() -> frozenset[str]:
    """The named queries with a trial parameter (type ``nct``)."""
    return frozenset(query.name for query in list_queries() if any(p.kind == "nct" for p in query.parameters))


def _bound(q: dict[str, Any]) -> bool:
    """Whether a case is held to the bound-query target: bound to one trial, or to one concept with a modest answer."""
    return q["label"] == MODEST_LABEL or q["query"] in CONCEPT_BOUND | _trial_bound()


def _tier_name(t: dict[str, Any]) -> str:
    return f"{t['trials_requested']:,}"


def rdflib_tiers(tiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tiers also built with rdflib (successfully)."""
    return [t for t in tiers if "rdflib" in t and "error" not in t["rdflib"]]


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


def build_section(tiers: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Build",
        "",
        "`build s` is wall time; `CPU s` adds the CPU time of the build and its mapping and index processes (steadier"
        " than wall time on a busy machine). Phases: reading, mapping and loading the records; loading MeSH and "
        "computing information content (IC alone in brackets); compacting the store and swapping it in; the indexes "
        "saved beside the store (each one's refresh and file below).",
        "",
        "| trials | workers | quads | generate s | build s | CPU s | trials/s | read+map+load s | MeSH+IC s | "
        "optimize+swap s | indexes s | peak RSS MiB (build process) | peak RSS MiB (process tree: mapping, index "
        "processes) | store MiB | indexes MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    earlier = [t for t in tiers if "builds_measured" in t]
    for t in tiers:
        for workers, b in sorted(t["builds"].items(), key=lambda item: int(item[0])):
            if "error" in b:
                lines.append(f"| {_tier_name(t)} | {workers} | failed: {b['error'][-200:]} |" + " |" * 12)
                continue
            p = b["phases"]
            g = t["generation"]
            lines.append(
                f"| {b['trials']:,} | {workers} | {b['quads']:,} | {g.get('seconds', 0):.0f} | "
                f"{b['build_seconds']:,.0f} | {_maybe(b.get('cpu_seconds'))} | "
                f"{b['trials'] / b['build_seconds']:,.0f} | "
                f"{p.get('read_map_load', 0):,.0f} | {p.get('mesh_and_information_content', 0):,.0f} "
                f"({p.get('information_content', 0):,.0f}) | "
                f"{p.get('optimize_and_swap', 0):,.0f} | {p.get('indexes', 0):,.0f} | "
                f"{b['peak_rss_mib']:,.0f} | {b['peak_tree_rss_mib']:,.0f} | {b['store_mib']:,.0f} | "
                f"{b['index_mib'] or 0:,.0f} |"
            )
    lines += [
        f"- {_tier_name(t)}: the build figures are those of the run of {t['builds_measured']}; the queries were "
        f"measured on {t.get('measured', '?')} on the store kept in the scratch directory (`--queries-only`)."
        for t in earlier
    ]
    lines += [
        "",
        "Indexes beside the store (the main build's files `store-N.*`, and the seconds each index's refresh took in "
        "the indexes phase; `-` where a build did not record it). From 20,000 trials each index is rebuilt in a "
        "process of its own, one per core at a time, so these add up to more than the phase:",
        "",
        "| trials | index file | MiB | refresh s |",
        "|---:|---|---:|---:|",
    ]
    for t in tiers:
        b = _main_build(t)
        seconds = dict(b.get("index_seconds", {}))
        if "index_files_mib" not in b and b.get("index_mib"):  # measured before each file was
            lines.append(f"| {_tier_name(t)} | all (files not recorded) | {b['index_mib']:,.1f} | - |")
        for name, mib in b.get("index_files_mib", {}).items():
            took = seconds.pop(name.split(".")[0], None)
            lines.append(f"| {_tier_name(t)} | {name} | {mib:,.1f} | {'-' if took is None else f'{took:,.1f}'} |")
        lines += [f"| {_tier_name(t)} | {name} (no file) | - | {took:,.1f} |" for name, took in seconds.items()]
    speedups = [
        (t, t["builds"]["1"], _main_build(t))
        for t in tiers
        if "1" in t["builds"] and len(t["builds"]) > 1 and not any("error" in b for b in t["builds"].values())
    ]
    if speedups:
        lines += ["", "## Parallel build: speedup", ""]
        for t, one, many in speedups:
            lines.append(
                f"- {_tier_name(t)} trials: {one['build_seconds']:,.0f} s with 1 worker → "
                f"{many['build_seconds']:,.0f} s with {max(t['builds'], key=int)} "
                f"(**{one['build_seconds'] / many['build_seconds']:.2f}x**); reading, mapping and loading alone "
                f"{one['phases']['read_map_load']:,.0f} s → {many['phases']['read_map_load']:,.0f} s "
                f"({one['phases']['read_map_load'] / many['phases']['read_map_load']:.2f}x)."
            )
    return lines


def latency_section(tiers: list[dict[str, Any]]) -> list[str]:
    """Every case as ``kg query`` answers it and by its SPARQL per tier, the rdflib baseline, agreement, explorer."""
    lines = [
        "## Latency",
        "",
        "p50 / p95 in ms (nearest rank) on the on-disk store opened read-only. `answer` is what `kg query` runs "
        "(`kg.analysis.answers.answer`: from an index saved beside the store where the query has a fast path, else "
        "the SPARQL); `SPARQL` is `kg.queries.run`, what a remote engine runs. A query without a fast path is timed "
        "once (`answer` runs its SPARQL): `same` in its SPARQL column. rdflib in memory where built (its ratio is to "
        "Oxigraph's SPARQL).",
        "",
    ]
    lines += [
        f"**{_tier_name(t)}: {t['latency']['answer_note']}**" for t in tiers if t.get("latency", {}).get("answer_note")
    ]
    with_rdflib = rdflib_tiers(tiers)
    header = "| query | fast path | " + " | ".join(f"{_tier_name(t)} answer | {_tier_name(t)} SPARQL" for t in tiers)
    header += "".join(f" | rdflib {_tier_name(t)} | rdflib / Oxigraph p50" for t in with_rdflib)
    lines += [header + " |", "|---|---|" + "---:|" * (2 * len(tiers) + 2 * len(with_rdflib))]
    # by label: the named queries can differ between tiers measured on different days
    by_label = [{q["label"]: q for q in t.get("latency", {}).get("queries", [])} for t in tiers]
    rdflib_by_label = [{q["label"]: q for q in t["rdflib"]["queries"]} for t in with_rdflib]
    for label in dict.fromkeys(label for table in by_label for label in table):
        known = [table[label]["fast"] for table in by_label if "fast" in table.get(label, {})]
        cells = ["yes" if any(known) else "no" if known else "-"]
        for table in by_label:
            q = table.get(label)
            mine, sparql = _timings(q) if q else (None, None)
            cells += [_cell(mine), "same" if q and q.get("fast") is False else _cell(sparql)]
        for t, table in zip(with_rdflib, rdflib_by_label, strict=True):
            r = table.get(label, {})
            o = _timings(by_label[tiers.index(t)].get(label) or {})[1]
            ratio = f"{r['p50_ms'] / o['p50_ms']:,.0f}x" if r.get("runs") and o.get("runs") else "-"
            cells += [_cell(r) if r.get("runs") else str(r.get("error", "-"))[:40], ratio]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for key, label in (("ancestors", "ancestors (kg ancestors, one random descriptor)"),
                       ("related", "related trials (kg related, top 20, random trials)"),
                       ("landscape", f"landscape (condition {LANDSCAPE_CONDITION}, Neoplasms; fact table)"),
                       ("landscape_queries", "landscape (the same, by the nine named queries)")):  # fmt: skip
        cells = [f"{_cell(t.get('latency', {}).get(key))} | -" for t in tiers]
        lines.append(f"| {label} | - | " + " | ".join(cells) + " | -" * (2 * len(with_rdflib)) + " |")
    modest = [
        f"{t['latency']['modest_concept']} at {_tier_name(t)}"
        for t in tiers
        if t.get("latency", {}).get("modest_concept")
    ]
    if modest:
        lines += [
            "",
            f"`{MODEST_LABEL}`: the descriptor with about {MODEST_TRIALS} trials at or under it by its information "
            f"content, picked per tier: {', '.join(modest)}.",
        ]
    return lines + agreement_section(tiers, by_label) + explorer_section(tiers)


def _agreement(q: dict[str, Any] | None) -> str:
    if q and q.get("agree_note"):
        return "same (list order)"
    verdict = q.get("agree") if q else None
    return "-" if verdict is None else "same" if verdict else "**DIFFERENT**"


def agreement_section(tiers: list[dict[str, Any]], by_label: list[dict[str, dict[str, Any]]]) -> list[str]:
    """Whether ``answer`` and the SPARQL gave the same rows, per tier, for every query with a fast path."""
    lines = [
        "",
        "### Same rows both ways",
        "",
        "Once per tier, for each query with a fast path whose SPARQL finished within the timeout: the rows of "
        "`answer` and of the SPARQL compared as multisets, each value with its type (`-`: the SPARQL did not finish, "
        "or the tier was measured before this check; `same (list order)`: the same rows once the lists joined by "
        "` | ` are sorted, GROUP_CONCAT's order being undefined in SPARQL).",
        "",
    ]
    labels = dict.fromkeys(label for table in by_label for label in table)
    fast = [label for label in labels if any(table.get(label, {}).get("fast") for table in by_label)]
    if not fast:
        return [*lines, "No query had a fast path in these tiers."]
    lines += ["| query | " + " | ".join(_tier_name(t) for t in tiers) + " |", "|---|" + "---:|" * len(tiers)]
    lines += [f"| {label} | " + " | ".join(_agreement(table.get(label)) for table in by_label) + " |" for label in fast]
    wrong = [
        f"- **{label} at {_tier_name(t)}**: {table[label]['disagreement']}"
        for t, table in zip(tiers, by_label, strict=True)
        for label in fast
        if table.get(label, {}).get("agree") is False
    ]
    return lines + (["", "**Disagreements** (answer vs SPARQL):", "", *wrong] if wrong else [])


def explorer_section(tiers: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "### The explorer page, cold",
        "",
        f"The page of a trial (`render_explorer`: `explorer_data`, then the HTML) at depth {SERVED_DEPTH}, as "
        f"`kg serve` draws it, and at depth {EXPLORER_DEPTH}, as `kg explore` writes it to a file (the target's), "
        f"for up to {EXPLORER_TRIALS} random trials each, each drawn for the first time in the query process, after "
        "the saved indexes were loaded (load times apart) and after one first page (the process's one-off work, also "
        "apart). ms, p50 / p95 / slowest.",
        "",
        "| trials | saved indexes loaded, s | depth | first page ms | pages | data p50 / p95 / max "
        "| page p50 / p95 / max |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for t in tiers:
        lat = t.get("latency", {})
        loads = lat.get("index_load_seconds") or {"related": lat.get("related_index_load_seconds")}
        loaded = ", ".join(f"{name} {s:.2f}" for name, s in loads.items() if s is not None) or "-"
        for key in ("explorer_served", "explorer"):
            e = lat.get(key, {})
            depth = e.get("depth", EXPLORER_DEPTH if key == "explorer" else SERVED_DEPTH)
            if "page" not in e:
                lines.append(f"| {_tier_name(t)} | {loaded} | {depth} | {e.get('error', 'not measured')} | | | |")
                continue
            d, p = e["data"], e["page"]
            lines.append(
                f"| {_tier_name(t)} | {loaded} | {depth} | {e['first_page_ms']:,.0f} | {p['runs']} | "
                f"{d['p50_ms']:,.0f} / {d['p95_ms']:,.0f} / {d['max_ms']:,.0f} | "
                f"{p['p50_ms']:,.0f} / {p['p95_ms']:,.0f} / {p['max_ms']:,.0f} |"
            )
    return lines


def _verdict(value: float | None, limit: float, unit: str, where: str, final: bool) -> str:
    """``**met**``/``**missed**`` with the figure on the 600k tier; on a smaller one, not measured (figure given)."""
    if value is None:
        return "not measured"
    figure = f"{value:,.2f} {unit} at {where} (target ≤ {limit:g} {unit})"
    if not final:
        return f"not measured at 600k; {figure}"
    return f"{'**met**' if value <= limit else '**missed**'}: {figure}"


def _case_verdict(q: dict[str, Any], limit_ms: float, where: str, final: bool) -> tuple[str, str]:
    """A case's p95 as ``kg query`` answers it, and its verdict: a run abandoned or failed misses its target."""
    mine, _ = _timings(q)
    if mine is None:
        return "-", "not measured (no `answer` timing in this tier)"
    if mine.get("error"):
        failed = str(mine["error"])[:80]
        return failed, f"**missed**: {failed}" if final else f"not measured at 600k; {failed} at {where}"
    return f"{mine['p95_ms']:,.1f}", _verdict(mine["p95_ms"], limit_ms, "ms", where, final)


def _group_verdict(cases: list[dict[str, Any]], limit_ms: float, where: str, final: bool) -> str:
    """One target over several cases: met when every case is measured and within it, missed when any is over."""
    judged = [(q["label"], *_case_verdict(q, limit_ms, where, final)) for q in cases]
    over = [f"{label} ({figure})" for label, figure, verdict in judged if "missed" in verdict]
    unmeasured = sum("not measured" in verdict for _, _, verdict in judged)
    if not judged or unmeasured == len(judged):
        return "not measured"
    if not final:
        return f"not measured at 600k (each query's figure at {where} in the table below)"
    if over:
        return f"**missed**: {len(over)} of {len(judged)} cases over at {where}: {', '.join(over)}"
    if unmeasured:
        return f"not measured: {unmeasured} of {len(judged)} cases without a figure, the others within"
    return f"**met**: all {len(judged)} cases within at {where}"


def targets_section(tiers: list[dict[str, Any]]) -> list[str]:
    """Every target of issue 18 and the ones it keeps, marked on the 600k tier (else not measured, with the largest
    tier's figure), then each named query against its own target."""
    lines = ["## Targets", ""]
    long_tier = next((t for t in tiers if t["trials_requested"] >= LONG_TIER), None)
    shown = long_tier or (tiers[-1] if tiers else None)
    if shown is None:
        return [*lines, "No tier measured."]
    final, where = long_tier is not None, _tier_name(shown)
    lines += [
        f"Judged at {where} trials"
        + ("." if final else " (the 600k tier was not measured: nothing is marked met).")
        + " Figures: build wall time; peak RSS the larger of the build process's and its process tree's (mapping "
        "processes included, shared pages counted in each); query p95 as `kg query` answers it.",
        "",
    ]
    b, lat = _main_build(shown), shown.get("latency", {})
    if "error" in b:
        failed = "**missed**: " if final else "not measured: "
        lines.append(f"- build ≤ 15 min, peak RSS ≤ 3 GiB: {failed}the build failed ({b['error'][-200:]})")
        if final and "partial" in shown:
            lines[-1] += f"; {shown['partial'].get('verdict', '')}"
    else:
        rss = max(b["peak_rss_mib"], b["peak_tree_rss_mib"]) / 1024
        lines += [
            f"- build ≤ {TARGETS['build_600k_minutes']:g} min: "
            + _verdict(b["build_seconds"] / 60, TARGETS["build_600k_minutes"], "min", where, final),
            f"- peak RSS ≤ {TARGETS['build_600k_peak_rss_gib']:g} GiB: "
            + _verdict(rss, TARGETS["build_600k_peak_rss_gib"], "GiB", where, final)
            + f" (build process {b['peak_rss_mib'] / 1024:.2f} GiB, with mapping and index processes "
            f"{b['peak_tree_rss_mib'] / 1024:.2f} GiB)",
        ]
        if "builds_measured" in shown:  # --queries-only: the build is an earlier run's, maybe of earlier code
            lines[-2:] = [f"{line} — the build run of {shown['builds_measured']}" for line in lines[-2:]]
    cases = lat.get("queries", [])
    every_ms, bound_ms = 1000 * TARGETS["named_query_p95_seconds"], TARGETS["bound_query_p95_ms"]
    bound = [q for q in cases if _bound(q)]
    lines += [
        f"- every named query p95 ≤ {every_ms:,.0f} ms: {_group_verdict(cases, every_ms, where, final)}",
        f"- queries bound to one trial or to one concept with a modest answer, p95 ≤ {bound_ms:,.0f} ms: "
        + _group_verdict(bound, bound_ms, where, final),
    ]
    e = lat.get("explorer", {})
    page = e.get("page", {})
    lines.append(
        f"- explorer page (depth {EXPLORER_DEPTH}) ≤ {TARGETS['explorer_cold_seconds']:g} s cold"
        + (f", p95 of {page['runs']} trials: " if page else ": ")
        + _verdict(page["p95_ms"] / 1000 if page else None, TARGETS["explorer_cold_seconds"], "s", where, final)
        + (f" (slowest {page['max_ms'] / 1000:,.2f} s)" if page else "")
    )
    served = lat.get("explorer_served", {}).get("page", {})
    if served:
        lines.append(
            f"  - the page `kg serve` draws (depth {SERVED_DEPTH}): p95 {served['p95_ms'] / 1000:,.2f} s, "
            f"p50 {served['p50_ms'] / 1000:,.2f} s of {served['runs']} trials"
        )
    land = lat.get("landscape", {})
    for label, value, limit, unit in (
        ("related p95", lat.get("related", {}).get("p95_ms"), TARGETS["related_p95_ms"], "ms"),
        ("ancestors p95", lat.get("ancestors", {}).get("p95_ms"), TARGETS["ancestors_p95_ms"], "ms"),
        (f"landscape ({LANDSCAPE_CONDITION}) p95", land["p95_ms"] / 1000 if "p95_ms" in land else None,
         TARGETS["landscape_seconds"], "s"),
    ):  # fmt: skip
        lines.append(f"- {label} ≤ {limit:g} {unit}: {_verdict(value, limit, unit, where, final)}")
    lines += [
        "",
        f"Each named query at {where}, against its target (bound to one trial or to one concept with a modest "
        f"answer: {bound_ms:g} ms; every other: {every_ms:g} ms):",
        "",
        "| query | fast path | target ms | p95 ms (answer) | verdict |",
        "|---|---|---:|---:|---|",
    ]
    for q in cases:
        target = bound_ms if _bound(q) else every_ms
        figure, verdict = _case_verdict(q, target, where, final)
        fast = {True: "yes", False: "no"}.get(q.get("fast"), "-")
        lines.append(f"| {q['label']} | {fast} | {target:g} | {figure} | {verdict} |")
    return lines


def report(results: dict[str, Any], plotted: bool) -> str:
    m = results["machine"]
    tiers = results["tiers"]
    lines = [
        "# kg at registry scale",
        "",
        f"{results['date']} · {m['cpu_model']} · {m['nproc']} CPUs · {m['memory_gib']} GiB · Python {m['python']} · "
        f"pyoxigraph {m['packages']['pyoxigraph']} · rdflib {m['packages']['rdflib']} · {shared.code_measured(m)} "
        f"· load average {m['load_average_start'][0]:.1f} → {m['load_average_end'][0]:.1f}",
        "",
        "**Machine**: whatever else ran on the same cores shows in the load averages (a run alone reads about 1 to 2: "
        "its build uses both cores at times); wall times are pessimistic when they are higher.",
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
            f"- {_tier_name(t)}: {t.get('measured', '?')}, `{t.get('command', '?')}`, load "
            + " → ".join(f"{x:.1f}" for x in t.get("load_average", []))
            + (f"; rebuilt from {t['rebuilt_from']}" if "rebuilt_from" in t else "")
            for t in tiers
        ),
        "",
        *targets_section(tiers),
        "",
        *build_section(tiers),
        "",
        *latency_section(tiers),
    ]
    for t in rdflib_tiers(tiers):
        r, b = t["rdflib"], _main_build(t)
        lines += [
            "",
            f"rdflib baseline at {_tier_name(t)} trials (same corpus, same MeSH, same named queries): build "
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
            lines += ["", f"## {_tier_name(t)} trials: stopped before the end", "", t["partial"]["note"], ""]
            lines += [f"    {line}" for line in t["partial"]["log"]]
    return "\n".join(lines) + "\n"


def _maybe(value: float | None) -> str:
    """A figure, or "not recorded" (a tier rebuilt from its job files, without the runner's own clocks)."""
    return "not recorded" if value is None else f"{value:,.0f}"


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
    parser.add_argument("--scratch", type=Path, help="corpora, stores and logs (default: OUT/tmp, kept after the run)")
    parser.add_argument("--keep", action="store_true", help="keep the other tiers of an earlier scale.json in --out")
    parser.add_argument(
        "--queries-only",
        action="store_true",
        help="measure queries again on the stores under --scratch; keep each tier's build figures from --out",
    )
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
    if MESH != shared.MESH_FILES:
        missing = ", ".join(str(p) for p in shared.MESH_FILES if not p.is_file())
        shared.log(f"no MeSH files at {missing}: corpora and builds use the demo vocabulary ({MESH[0].name})")
    tiers = sorted(set(args.tiers) | ({LONG_TIER} if args.with_600k else set()))
    args.scratch = args.scratch or args.out / "tmp"
    args.scratch.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": shared.machine(),
        "command": "python benchmarks/scale.py " + " ".join(sys.argv[1:]),
        "settings": {
            **{k: v for k, v in vars(args).items() if k not in ("out", "scratch") and not k.endswith("_worker")},
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
