"""Named queries side by side: Virtuoso and the embedded Oxigraph store they come from (issue 18, part 4).

    python benchmarks/virtuoso.py --store oxigraph:PATH [--repeats 20] [--budget 5] [--timeout 30] [--out DIR]

The built store (read-only) is dumped to N-Quads and bulk-loaded (``ld_dir`` + ``rdf_loader_run`` +
``checkpoint``) into a new Virtuoso database on 127.0.0.1, started as the tests start it (``tests/virtuoso_support.py``)
with a cache of ``--virtuoso-gib``. The load is checked: Virtuoso holds the store's quads and named graphs, and its
union default graph as many triples as the store's. Then every named query (``run.py``'s ``query_cases``: text and
MeSH both ways, plus ``scale.py``'s ``trials_under`` of a modest concept) is timed case by case three ways: on
Virtuoso through ``RemoteStore`` and ``kg.queries.run`` (what a remote user runs), on the embedded store by
``kg.queries.run`` (its SPARQL) and by ``kg.analysis.answers.answer`` (what ``kg query`` runs: an index saved beside
the store where one answers the query; a query without one is not timed again). Row counts are compared across the
three. Writes ``virtuoso.json`` and ``virtuoso.md`` to ``--out``; the dump and the database go to a temporary
directory under ``--scratch``, deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as shared  # benchmarks/run.py: the query cases and their timing
import scale  # benchmarks/scale.py: the modest concept, what `kg query` runs
from remote_load import _virtuoso_version

from kg.analysis.indexes import SAVED_INDEXES
from kg.analysis.related import RELATED_INDEX
from kg.graphs import TRIAL_GRAPH_PREFIX
from kg.queries import load_query, run
from kg.store import Store, open_store
from kg.store.remote import RemoteStore
from tests.virtuoso_support import VirtuosoServer, run_virtuoso

#: Virtuoso's page size: its cache is ``NumberOfBuffers`` pages of 8 KB.
PAGE_BYTES: Final = 8192
#: Seconds allowed to the bulk load and to the checkpoint after it (a 600k store takes a long while).
LOAD_TIMEOUT: Final = 4 * 3600
#: Where the bulk loader puts triples outside any named graph (the store has none; checked by the quad counts).
TRIPLES_GRAPH: Final = "urn:kg:benchmark:default-graph"
UNION_TRIPLES: Final = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
GRAPHS: Final = "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
ENGINES: Final = ("virtuoso", "oxigraph", "answer")
#: Kinds of named query, by what bounds their work (the order of the report's summary).
KINDS: Final = (
    "bound to one trial",
    "whole registry or one concept, an index beside the store",
    "whole registry or one concept, no index (the SPARQL everywhere)",
)
HEADINGS: Final = {
    "virtuoso": "Virtuoso (`sparql:`, SPARQL)",
    "oxigraph": "Oxigraph embedded, SPARQL",
    "answer": "`kg query` (answer)",
}


def dump(store: Store, path: Path) -> dict[str, Any]:
    """The whole store as N-Quads. Not gzip'd, though the bulk loader reads ``.nq.gz``: at 10k trials gzip (level 1)
    doubled the dump's time (44 s instead of 22 s) to save disk space only."""
    clock = time.perf_counter()
    with path.open("wb") as out:
        store.dump(out, "application/n-quads")
    return {"seconds": time.perf_counter() - clock, "mib": path.stat().st_size / 2**20}


def bulk_load(server: VirtuosoServer, folder: Path) -> dict[str, Any]:
    """Virtuoso's bulk loader over the dump folder (the SPARQL Update path runs at ~10k quads/s), then a checkpoint,
    each timed; the database's size on disk after it."""
    server.isql(f"ld_dir('{folder}', '*.nq', '{TRIPLES_GRAPH}');")
    clock = time.perf_counter()
    server.isql("rdf_loader_run();", timeout=LOAD_TIMEOUT)
    loaded = time.perf_counter()
    server.isql("checkpoint;", timeout=LOAD_TIMEOUT)
    database = server.directory / "virtuoso.db"
    return {
        "load_seconds": loaded - clock,
        "checkpoint_seconds": time.perf_counter() - loaded,
        "database_mib": database.stat().st_size / 2**20,
    }


def count(store: Store, sparql: str) -> int:
    return int(store.select(sparql).rows[0]["n"] or 0)


def holdings(store: Store) -> dict[str, int]:
    """Quads, named graphs and triples in the union default graph, which the named queries read."""
    return {"quads": len(store), "graphs": count(store, GRAPHS), "union_triples": count(store, UNION_TRIPLES)}


def check_load(store: Store, remote: RemoteStore, server: VirtuosoServer) -> dict[str, int]:
    """The same quads, named graphs and union default graph on Virtuoso as in the store, or an error saying which."""
    local, loaded = holdings(store), holdings(remote)
    if local != loaded:
        errors = server.isql("SELECT ll_file, ll_error FROM DB.DBA.load_list WHERE ll_error IS NOT NULL;")
        raise RuntimeError(f"Virtuoso holds {loaded}, the store {local}: {errors}")
    trials = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ }} FILTER(STRSTARTS(STR(?g), '{TRIAL_GRAPH_PREFIX}')) }}"
    return {**local, "trials": count(store, trials)}


def sample_cases(store: Store) -> tuple[list[dict[str, Any]], str, str | None]:
    """``run.py``'s cases for a trial drawn with ``scale.py``'s seed, and ``trials_under`` of a modest concept."""
    index = RELATED_INDEX.load(store)
    nct = random.Random(scale.SEED).choice(index.ncts)
    cases = shared.query_cases(nct)
    concept = scale.modest_concept(index)
    if concept:
        cases.append({"label": scale.MODEST_LABEL, "query": "trials_under", "params": {"concept": concept}})
    return cases, nct, concept


def time_case(
    case: dict[str, Any], store: Store, remote: RemoteStore, args: argparse.Namespace, answer: shared.Runner | None
) -> dict[str, Any]:
    """One case on the three engines, one after another (``answer`` is None where ``kg query`` runs the SPARQL);
    rows per engine and whether the counts agree."""
    limits = (args.repeats, args.budget, args.timeout)
    fields = ("runs", "rows", "error", "first_ms", "p50_ms", "p95_ms")
    timed = {
        "virtuoso": shared.time_queries(remote, [case], *limits, runner=run)[0],
        "oxigraph": shared.time_queries(store, [case], *limits, runner=run)[0],
    }
    timed["answer"] = shared.time_queries(store, [case], *limits, runner=answer)[0] if answer else timed["oxigraph"]
    rows = {engine: timed[engine]["rows"] for engine in ENGINES if timed[engine]["rows"] is not None}
    out = {**case, "fast": answer is not None, **{engine: {k: timed[engine][k] for k in fields} for engine in ENGINES}}
    out["rows_agree"] = len(set(rows.values())) <= 1
    trial_bound = any(parameter.kind == "nct" for parameter in load_query(case["query"]).parameters)
    out["kind"] = KINDS[0] if trial_bound else KINDS[1] if answer else KINDS[2]
    if not out["rows_agree"]:
        shared.log(f"ROW COUNTS DIFFER on {case['label']}: {rows}")
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.store.partition(":")[2])
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/virtuoso.py " + " ".join(sys.argv[1:]),
        "machine": shared.machine(),
        "virtuoso": {"version": _virtuoso_version(), "buffers": args.buffers, "threads_per_query": 2},
        "settings": {"repeats": args.repeats, "budget_seconds": args.budget, "timeout_seconds": args.timeout},
        "store": {"spec": args.store, "mib": shared.directory_mib(path)},
    }
    args.scratch.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="kg-virtuoso-", dir=args.scratch) as tmp,
        open_store(args.store, read_only=True) as store,
    ):
        root = Path(tmp)
        (root / "dump").mkdir()
        shared.log("dumping the store …")
        results["dump"] = dump(store, root / "dump" / "store.nq")
        shared.log(f"dumped: {results['dump']}")
        with run_virtuoso(root, buffers=args.buffers) as server:
            results["load"] = bulk_load(server, root / "dump")
            shared.log(f"loaded: {results['load']}")
            remote = RemoteStore(server.sparql_url)
            remote.session.params = {"timeout": int(1000 * args.timeout) + 2000}  # Virtuoso stops an abandoned run
            results["data"] = check_load(store, remote, server)
            shared.log(f"checked: {results['data']}")
            clock = time.perf_counter()
            for kind in SAVED_INDEXES:  # loaded once, as a `kg serve` process holds them
                kind.load(store)
            results["index_load_seconds"] = time.perf_counter() - clock
            cases, results["sample_trial"], results["modest_concept"] = sample_cases(store)
            answer, fast, results["answer_note"] = scale.answering()
            results["queries"] = []
            for case in cases:
                runner = answer if case["query"] in fast else None
                results["queries"].append(time_case(case, store, remote, args, runner))
                shared.log(f"{case['label']}: " + " | ".join(_cell(results["queries"][-1][e]) for e in ENGINES))
            remote.close()
    results["machine"]["load_average_end"] = os.getloadavg()
    return results


# --- the report ---------------------------------------------------------------------------------------------------


def _cell(timing: dict[str, Any]) -> str:
    """p50 / p95, or the error: the engine's own message, without the endpoint's URL and the query's text."""
    cell = f"{timing['p50_ms']:,.1f} / {timing['p95_ms']:,.1f}" if timing["runs"] else ""
    if not timing["error"]:
        return cell
    error = re.sub(r"the SPARQL endpoint \S+ answered ", "", timing["error"]).split(" SPARQL query:")[0]
    return f"{cell} {error[:120]}".strip()


def _rows(q: dict[str, Any]) -> str:
    counts = [q[engine]["rows"] for engine in ENGINES]
    if q["rows_agree"]:
        return next((f"{n:,}" for n in counts if n is not None), "-")
    return "**differ**: " + " / ".join("-" if n is None else f"{n:,}" for n in counts)


def _within(queries: list[dict[str, Any]], engine: str, limit_ms: float) -> int:
    return sum(1 for q in queries if q[engine]["runs"] and not q[engine]["error"] and q[engine]["p95_ms"] <= limit_ms)


def _spread(queries: list[dict[str, Any]], engine: str) -> str:
    """Median p50 and worst p95 of the cases an engine finished, and how many it did not."""
    done = [q[engine] for q in queries if q[engine]["runs"] and not q[engine]["error"]]
    cell = (
        f"{statistics.median(t['p50_ms'] for t in done):,.1f} / {max(t['p95_ms'] for t in done):,.1f}" if done else ""
    )
    missed = len(queries) - len(done)
    return f"{cell} ({missed} failed or abandoned)".strip() if missed else cell


def _faster(queries: list[dict[str, Any]]) -> str:
    """In how many cases (both finished) Virtuoso's p50 beat the embedded SPARQL's, and the median ratio."""
    both = [q for q in queries if all(q[e]["runs"] and not q[e]["error"] for e in ("virtuoso", "oxigraph"))]
    if not both:
        return "-"
    ratio = statistics.median(q["oxigraph"]["p50_ms"] / q["virtuoso"]["p50_ms"] for q in both)
    return f"{sum(q['virtuoso']['p50_ms'] < q['oxigraph']['p50_ms'] for q in both)} of {len(both)} ({ratio:.2g}x)"


def summary(queries: list[dict[str, Any]]) -> list[str]:
    """The cases by kind: median p50 / worst p95 per engine, and where Virtuoso is the faster SPARQL engine."""
    lines = [
        "## By kind of query",
        "",
        "Median p50 / worst p95 in ms over the cases of each kind; `Virtuoso faster`: cases where Virtuoso's p50 beat "
        "the embedded SPARQL's (median of embedded / Virtuoso p50). Then how many cases each engine answered with a "
        "p95 within 200 ms and 2 s.",
        "",
        "| kind | cases | " + " | ".join(HEADINGS[e] for e in ENGINES) + " | Virtuoso faster |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        some = [q for q in queries if q["kind"] == kind]
        if some:
            cells = " | ".join(_spread(some, e) for e in ENGINES)
            lines.append(f"| {kind} | {len(some)} | {cells} | {_faster(some)} |")
    cells = " | ".join(_spread(queries, e) for e in ENGINES)
    lines += [f"| all | {len(queries)} | {cells} | {_faster(queries)} |", ""]
    lines += ["| engine | p95 ≤ 200 ms | p95 ≤ 2 s | failed or abandoned |", "|---|---:|---:|---:|"]
    for engine in ENGINES:
        failed = sum(1 for q in queries if q[engine]["error"])
        lines.append(
            f"| {HEADINGS[engine]} | {_within(queries, engine, 200)} | {_within(queries, engine, 2000)} | {failed} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    m, v, d, s = results["machine"], results["virtuoso"], results["data"], results["settings"]
    dumped, loaded = results["dump"], results["load"]
    total = dumped["seconds"] + loaded["load_seconds"] + loaded["checkpoint_seconds"]
    queries = results["queries"]
    gib = v["buffers"] * PAGE_BYTES / 2**30
    lines = [
        f"# Named queries on Virtuoso beside embedded Oxigraph: {d['trials']:,} trials",
        "",
        f"{results['date']} · {m['cpu_model']} · {m['nproc']} CPUs · {m['memory_gib']} GiB · Python {m['python']} · "
        f"pyoxigraph {m['packages']['pyoxigraph']} · {v['version']} · {shared.code_measured(m)} · load average "
        f"{m['load_average_start'][0]:.2f} → {m['load_average_end'][0]:.2f}. Command: "
        f"`{results['command']}`. Store `{results['store']['spec']}` (synthetic trials from `kg synth`, every one "
        "marked synthetic). See `benchmarks/README.md`.",
        "",
        "## Load",
        "",
        f"{d['quads']:,} quads in {d['graphs']:,} named graphs ({d['trials']:,} trials); both engines hold them all "
        f"and show {d['union_triples']:,} triples in their union default graph (checked after the load).",
        "",
        "| step | seconds | size MiB | quads/s |",
        "|---|---:|---:|---:|",
        f"| dump of the embedded store to N-Quads (`Store.dump`) | {dumped['seconds']:,.1f} "
        f"| {dumped['mib']:,.0f} | {d['quads'] / dumped['seconds']:,.0f} |",
        f"| Virtuoso bulk load (`ld_dir` + `rdf_loader_run()`, one loader) | {loaded['load_seconds']:,.1f} | "
        f"| {d['quads'] / loaded['load_seconds']:,.0f} |",
        f"| Virtuoso `checkpoint` | {loaded['checkpoint_seconds']:,.1f} | {loaded['database_mib']:,.0f} "
        "(`virtuoso.db`) | |",
        f"| dump + load + checkpoint | {total:,.1f} | | |",
        f"| embedded Oxigraph store on disk (built by `kg build`) | | {results['store']['mib']:,.0f} | |",
        "",
        *summary(queries),
        "",
        "## Latency",
        "",
        f"p50 / p95 in ms (nearest rank) over up to {s['repeats']} runs, fewer once a query's runs took "
        f"{s['budget_seconds']:g} s; a run is abandoned after {s['timeout_seconds']:g} s. Case by case, one engine "
        f"after the other: Virtuoso through `RemoteStore` + `kg.queries.run` over loopback HTTP (cache "
        f"{v['buffers']:,} buffers = {gib:.1f} GiB, `ThreadsPerQuery = {v['threads_per_query']}`), the embedded "
        "store opened read-only by `kg.queries.run` (its SPARQL) and by `kg.analysis.answers.answer` (what `kg query` "
        "runs: an index saved beside the store where the query has one, marked *index*; otherwise the SPARQL, not "
        "timed again: `same`). "
        f"Sample trial {results['sample_trial']}; modest concept {results['modest_concept']}. "
        f"`rows` is the answer's size (the engines must agree). Saved indexes loaded first in "
        f"{results['index_load_seconds']:.1f} s.",
        "",
    ]
    if results["answer_note"]:
        lines += [f"**{results['answer_note']}**", ""]
    lines += [
        "| query | " + " | ".join(f"{HEADINGS[e]} p50 / p95" for e in ENGINES) + " | rows |",
        "|---|---:|---:|---:|---:|",
    ]
    for q in queries:
        answer = f"{_cell(q['answer'])} *index*" if q["fast"] else "same"
        lines.append(f"| {q['label']} | {_cell(q['virtuoso'])} | {_cell(q['oxigraph'])} | {answer} | {_rows(q)} |")
    differ = [q["label"] for q in queries if not q["rows_agree"]]
    lines += ["", f"Row counts differ on: {', '.join(differ)}." if differ else "Row counts agree on every case."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="the built embedded store, oxigraph:PATH")
    parser.add_argument("--repeats", type=int, default=20, help="runs per query and engine")
    parser.add_argument("--budget", type=float, default=5.0, help="stop repeating a query once its runs took this long")
    parser.add_argument("--timeout", type=float, default=30.0, help="abandon a single run after this many seconds")
    parser.add_argument("--virtuoso-gib", type=float, default=2.0, help="Virtuoso's page cache (NumberOfBuffers)")
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()), help="for the dump and database")
    parser.add_argument("--out", type=Path, default=shared.REPO / "benchmarks" / "results", help="results folder")
    args = parser.parse_args()
    if not args.store.startswith("oxigraph:") or not Path(args.store.partition(":")[2]).is_dir():
        parser.error(f"--store must name a built on-disk store, oxigraph:PATH, not {args.store!r}")
    args.buffers = int(args.virtuoso_gib * 2**30 / PAGE_BYTES)
    results = measure(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "virtuoso.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (args.out / "virtuoso.md").write_text(markdown(results), encoding="utf-8")
    shared.log(f"wrote {args.out / 'virtuoso.json'} and {args.out / 'virtuoso.md'}")


if __name__ == "__main__":
    main()
