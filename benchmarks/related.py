"""Related-trials latency: p50/p95 of ``kg related`` over random query trials at several corpus sizes.

Each size is the demo's synthetic trials (``kg.demo.synthetic_studies``) with the demo MeSH subset, built into an
on-disk Oxigraph store in a temporary directory. Measured: store build seconds, index build seconds, index file size,
and the latency of one query (index already loaded) over ``--queries`` random trials. Writes
``benchmarks/results/related.json``.

    python benchmarks/related.py                       # --sizes 1000,10000,100000 --queries 1000
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from kg.analysis.related import RELATED_INDEX, build_index, rank
from kg.demo import demo_mesh_file, synthetic_studies
from kg.pipeline.build import build
from kg.store import open_store

logger = logging.getLogger("benchmarks.related")
RESULTS = Path(__file__).parent / "results" / "related.json"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(size: int, queries: int, directory: Path) -> dict[str, Any]:
    """Build ``size`` synthetic trials, then time the index build and ``queries`` related-trial queries."""
    corpus = directory / f"synthetic-{size}.jsonl"
    with corpus.open("w", encoding="utf-8") as out:
        for study in synthetic_studies(size):
            out.write(json.dumps(study, ensure_ascii=False) + "\n")
    spec = f"oxigraph:{directory / f'store-{size}'}"
    started = time.perf_counter()
    build([corpus], spec, mesh=[demo_mesh_file()])
    build_seconds = time.perf_counter() - started
    with open_store(spec, read_only=True) as store:
        started = time.perf_counter()
        build_index(store)
        index_seconds = time.perf_counter() - started
        started = time.perf_counter()
        index = RELATED_INDEX.load(store)
        load_seconds = time.perf_counter() - started
    rng = random.Random(size)
    latencies = []
    for nct in rng.choices(index.ncts, k=queries):
        started = time.perf_counter()
        rank(index, nct, 20)
        latencies.append((time.perf_counter() - started) * 1000)
    saved = RELATED_INDEX.path(spec)
    result = {
        "trials": size,
        "queries": queries,
        "store_build_seconds": round(build_seconds, 2),
        "index_build_seconds": round(index_seconds, 2),
        "index_load_seconds": round(load_seconds, 3),
        "index_bytes": saved.stat().st_size if saved else None,
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(_percentile(latencies, 0.95), 2),
        "max_ms": round(max(latencies), 2),
    }
    logger.info("%s", result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    runs = []
    for size in (int(text) for text in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="kg-related-") as directory:
            runs.append(measure(size, args.queries, Path(directory)))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": platform.platform(), "python": platform.python_version(), "runs": runs}
        args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
