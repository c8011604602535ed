"""The related-trials engine against its SPARQL variant (``queries/related_trials.rq``), side by side on one store.

    python benchmarks/related_vs_sparql.py [--trials 10000] [--queries 100]

Builds the demo's synthetic trials with the demo MeSH subset into a temporary on-disk store, then times both ways
for the same random query trials and prints p50/p95 and their ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kg.analysis.related import RELATED_INDEX, rank
from kg.demo import demo_mesh_file, synthetic_studies
from kg.pipeline.build import build
from kg.queries import run
from kg.store import open_store


def percentiles(call: Callable[[str], object], ncts: list[str]) -> tuple[float, float]:
    samples = []
    for nct in ncts:
        started = time.perf_counter()
        call(nct)
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(0.95 * (len(samples) - 1))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "synthetic.jsonl"
        with corpus.open("w", encoding="utf-8") as out:
            for study in synthetic_studies(args.trials):
                out.write(json.dumps(study) + "\n")
        spec = f"oxigraph:{tmp}/store"
        build([corpus], spec, mesh=[demo_mesh_file()])
        with open_store(spec, read_only=True) as store:
            index = RELATED_INDEX.load(store)
            ncts = random.Random(3).sample(list(index.ncts), args.queries)
            sparql = percentiles(lambda nct: run(store, "related_trials", {"nct": nct}).rows, ncts)
            engine = percentiles(lambda nct: rank(index, nct, 20), ncts)
    print(
        f"{args.trials:,} synthetic trials, {args.queries} queries: "
        f"SPARQL related_trials p50 {sparql[0]:.1f} ms, p95 {sparql[1]:.1f} ms; "
        f"engine p50 {engine[0]:.1f} ms, p95 {engine[1]:.1f} ms; "
        f"ratio p50 {sparql[0] / engine[0]:.0f}x, p95 {sparql[1] / engine[1]:.0f}x"
    )


if __name__ == "__main__":
    main()
