"""Related-trials latency: p50/p95 of ``kg related`` over random query trials at several corpus sizes.

Each size is the demo's synthetic trials (``kg.demo.synthetic_studies``) with the demo MeSH subset, built into an
on-disk Oxigraph store in a temporary directory; ``--store`` measures an existing store instead (read only: the index
is weighed in a temporary directory, not saved beside it). Measured: store build seconds, index build seconds (and
its text part's), index file size and load time, and the latency of one query (20 results with explanations, index
loaded) over ``--queries`` random trials, and of the first-generation engine (``OLD_ENGINE``) and of the same
ranking with every candidate scored one by one (how ``rank`` worked before it totalled them at once) on the same
index and trials, for comparisons under the same load. Writes ``benchmarks/results/related.json`` after each size.

    python benchmarks/related.py                       # --sizes 1000,10000,100000 --queries 1000
    python benchmarks/related.py --store oxigraph:PATH --queries 1000  # an existing store: a 600k `kg synth` build
    python benchmarks/related.py --store oxigraph:PATH --saved         # only the queries, on the index saved beside it
    python benchmarks/related.py --saved --store oxigraph:A --store oxigraph:B   # several stores in one run
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from kg.analysis.related import OLD_ENGINE, RELATED_INDEX, WEIGHTS, RelatedIndex, _neighbour, build_index, rank, scores
from kg.analysis.related_text import build_text_index
from kg.demo import demo_mesh_file, synthetic_studies
from kg.pipeline.build import build
from kg.store import open_store

logger = logging.getLogger("benchmarks.related")
RESULTS = Path(__file__).parent / "results" / "related.json"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def synthetic_store(size: int, directory: Path) -> tuple[str, float]:
    """``size`` synthetic trials with the demo MeSH subset built into a store in ``directory``; its spec and the
    build's seconds."""
    corpus = directory / f"synthetic-{size}.jsonl"
    with corpus.open("w", encoding="utf-8") as out:
        for study in synthetic_studies(size):
            out.write(json.dumps(study, ensure_ascii=False) + "\n")
    spec = f"oxigraph:{directory / f'store-{size}'}"
    started = time.perf_counter()
    build([corpus], spec, mesh=[demo_mesh_file()])
    return spec, time.perf_counter() - started


def _timed(index: RelatedIndex, nct: str, weights: dict[str, float]) -> float:
    """Milliseconds for one query's 20 results with their explanations."""
    started = time.perf_counter()
    rank(index, nct, 20, weights)
    return (time.perf_counter() - started) * 1000


def _timed_one_by_one(index: RelatedIndex, nct: str) -> float:
    """Milliseconds for the same 20 results as ``rank`` gave them before its candidates were totalled at once:
    every candidate of the pool scored one by one (``scores``), the best explained."""
    started = time.perf_counter()
    query = index.trial(nct)
    best = [(other, scored) for other, scored in scores(index, nct)[:20] if scored.score > 0]
    for number, (other, scored) in enumerate(best, start=1):
        _neighbour(index, number, query, other, scored)
    return (time.perf_counter() - started) * 1000


def measure_saved(spec: str, queries: int) -> dict[str, Any]:
    """``queries`` related-trial queries on the index ``kg build`` saved beside the store at ``spec`` (its load
    timed), without building it again: at 600k trials a build takes the better part of an hour."""
    path = RELATED_INDEX.path(spec)
    if path is None or not path.is_file():
        raise SystemExit(f"no saved related-trials index beside {spec}")
    started = time.perf_counter()
    with path.open("rb") as stream:
        index = pickle.load(stream)
    loaded = time.perf_counter() - started
    return {**_latencies(index, queries), "index_load_seconds": round(loaded, 3), "index_bytes": path.stat().st_size}


def _latencies(index: RelatedIndex, queries: int) -> dict[str, Any]:
    """p50/p95 of ``queries`` random queries, this engine and the first generation on the same trials."""
    asked = random.Random(len(index.ncts)).choices(index.ncts, k=queries)
    latencies, old = ([_timed(index, nct, weights) for nct in asked] for weights in (WEIGHTS, OLD_ENGINE))
    one_by_one = [_timed_one_by_one(index, nct) for nct in asked]
    return {
        "trials": len(index.ncts),
        "queries": queries,
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(_percentile(latencies, 0.95), 2),
        "max_ms": round(max(latencies), 2),
        "one_by_one_p50_ms": round(statistics.median(one_by_one), 2),
        "one_by_one_p95_ms": round(_percentile(one_by_one, 0.95), 2),
        "first_generation_p50_ms": round(statistics.median(old), 2),
        "first_generation_p95_ms": round(_percentile(old, 0.95), 2),
    }


def measure(spec: str, queries: int, directory: Path) -> dict[str, Any]:
    """Time the index build (the text part apart) and ``queries`` related-trial queries on the store at ``spec``.
    The index is written in ``directory`` to weigh it, never beside the store."""
    with open_store(spec, read_only=True) as store:
        started = time.perf_counter()
        index = build_index(store)
        index_seconds = time.perf_counter() - started
        started = time.perf_counter()
        build_text_index(store, index.ncts)
        text_seconds = time.perf_counter() - started
    saved = directory / "related.pickle"
    with saved.open("wb") as out:
        pickle.dump(index, out, protocol=pickle.HIGHEST_PROTOCOL)
    started = time.perf_counter()
    with saved.open("rb") as stream:
        index = pickle.load(stream)
    load_seconds = time.perf_counter() - started
    result = {
        **_latencies(index, queries),
        "index_build_seconds": round(index_seconds, 2),
        "text_index_build_seconds": round(text_seconds, 2),
        "index_load_seconds": round(load_seconds, 3),
        "index_bytes": saved.stat().st_size,
        "text_index_entries": len(index.text.terms),
    }
    logger.info("%s", result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument(
        "--store",
        action="append",
        default=[],
        help="oxigraph:PATH of an existing store to measure instead (opened read-only); repeat for several",
    )
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--saved", action="store_true", help="with --store: time queries on its saved index only")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    runs: list[dict[str, Any]] = []
    for store in args.store:
        if args.saved:
            runs.append({"store": store, **measure_saved(store, args.queries)})
        else:
            with tempfile.TemporaryDirectory(prefix="kg-related-") as directory:
                runs.append({"store": store, **measure(store, args.queries, Path(directory))})
        _write(args.out, runs)
    for size in () if args.store else (int(text) for text in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="kg-related-") as directory:
            spec, build_seconds = synthetic_store(size, Path(directory))
            runs.append(
                {"store_build_seconds": round(build_seconds, 2), **measure(spec, args.queries, Path(directory))}
            )
        _write(args.out, runs)


def _write(out: Path, runs: list[dict[str, Any]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": platform.platform(), "python": platform.python_version(), "runs": runs}
    out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
