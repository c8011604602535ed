"""MeSH benchmark: load time, and ancestor/descendant query latency with the materialised closure (kg:ancestor)
against SPARQL property paths (skos:broader+), side by side in one run, on-disk and in-memory Oxigraph.

    python benchmarks/mesh.py [--repeat 200] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pyoxigraph

from kg.pipeline.mesh_load import load_mesh
from kg.store import Store, fresh_store, open_store

REPO = Path(__file__).resolve().parents[1]
MESH = REPO.parent / "shared" / "data" / "mesh"
FILES = [MESH / "d2024-reduced.bin", MESH / "c2024-reduced.bin"]
PREFIXES = "PREFIX kg: <https://w3id.org/trialkg/vocab/> PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
#: Both ways answer over descriptors only, so their answers must be equal (checked).
QUERIES = {
    ("ancestors", "materialised"): "SELECT ?a WHERE { <{c}> kg:ancestor ?a }",
    ("ancestors", "property path"): "SELECT DISTINCT ?a WHERE { <{c}> skos:broader+ ?a . ?a a kg:MeshDescriptor }",
    ("descendants", "materialised"): "SELECT ?d WHERE { ?d kg:ancestor <{c}> . ?d a kg:MeshDescriptor }",
    ("descendants", "property path"): "SELECT DISTINCT ?d WHERE { ?d skos:broader+ <{c}> }",
}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3),
    }


def latencies(store: Store, concepts: list[str]) -> dict[str, Any]:
    """p50/p95 of each query shape over the same random concepts; the answers of both ways must agree."""
    results: dict[str, Any] = {}
    for (kind, way), template in QUERIES.items():
        samples, answers = [], []
        for concept in concepts:
            query = PREFIXES + template.replace("{c}", concept)
            started = time.perf_counter()
            rows = store.select(query).rows
            samples.append(time.perf_counter() - started)
            answers.append(len(rows))
        results[f"{kind} / {way}"] = {
            **percentiles(samples),
            "mean_results": round(statistics.mean(answers), 1),
            "answers": answers,
        }
    for kind in ("ancestors", "descendants"):
        materialised, path = results[f"{kind} / materialised"], results[f"{kind} / property path"]
        assert materialised.pop("answers") == path.pop("answers"), f"{kind}: the two ways disagree"
    return results


def run(repeat: int, out: Path) -> dict[str, Any]:
    rng = random.Random(7)
    report: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "pyoxigraph": pyoxigraph.__version__,
            "cpu": platform.processor() or platform.machine(),
            "date": time.strftime("%Y-%m-%d"),
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        for label, spec in (("oxigraph on disk", f"oxigraph:{tmp}/store"), ("oxigraph in memory", "oxigraph:")):
            with fresh_store(spec) as store:
                loaded = load_mesh(store, FILES)
                if spec == "oxigraph:":
                    queried = store
                    concepts = _sample(queried, rng, repeat)
                    report[label] = {
                        "load_s": round(loaded.seconds, 2),
                        "quads": loaded.quads,
                        **latencies(queried, concepts),
                    }
            if spec != "oxigraph:":
                with open_store(spec, read_only=True) as queried:
                    concepts = _sample(queried, rng, repeat)
                    report[label] = {
                        "load_s": round(loaded.seconds, 2),
                        "quads": loaded.quads,
                        **latencies(queried, concepts),
                    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "mesh.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _sample(store: Store, rng: random.Random, repeat: int) -> list[str]:
    rows = store.select(PREFIXES + "SELECT ?c WHERE { ?c a kg:MeshDescriptor }").rows
    return [str(row["c"]) for row in rng.sample(rows, min(repeat, len(rows)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="random descriptors queried per query shape")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    if not FILES[0].is_file():
        raise SystemExit(f"MeSH files not found at {MESH} (../shared/data/mesh)")
    print(json.dumps(run(args.repeat, args.out), indent=2))


if __name__ == "__main__":
    main()
