"""Related trials on the development set: the weights chosen on its tune half, the ablation table on the held-out half.

The development set (``tests.related_evaluation.development_pairs``, docs/related-trials.md) links real records
that name each other's NCT id or protocol number, or share a sponsor's protocol-number stem; it is split by query
trial (fixed seed) into a tune half and a held-out half. This script

1. searches a grid of component weights on the tune half: of the points whose neighbours still share conditions
   (``QUALITY_FLOOR``), the best MAP; of those within ``TOLERANCE`` of it, the plainest (nearest all-ones);
2. scores, on the held-out half only, the engine with ``kg.analysis.related.WEIGHTS``, its parts alone (MeSH,
   text, structure), the first-generation engine, and two naive baselines (shared-MeSH-term count, random);
3. writes the table to ``benchmarks/results/related_eval.md``.

    python benchmarks/related_eval.py                              # builds the real records with MeSH first
    python benchmarks/related_eval.py --store oxigraph:PATH        # an existing store of those records
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.related_evaluation: the development set

from kg.analysis.related import (
    COMPONENTS,
    MESH_ONLY,
    OLD_ENGINE,
    RELATED_INDEX,
    STRUCTURE_ONLY,
    TEXT_ONLY,
    WEIGHTS,
    RelatedIndex,
)
from kg.analysis.related_eval import MEASURES, Labels, evaluate, retrieve
from kg.pipeline.build import build
from kg.store import open_store
from tests.conftest import CTGOV_DATA, MESH_DATA, latest_by_nct, raw_studies
from tests.related_evaluation import (
    development_pairs,
    naive_rankings,
    neighbour_quality,
    random_rankings,
    split,
)

logger = logging.getLogger("benchmarks.related_eval")
RESULTS = Path(__file__).parent / "results" / "related_eval.md"
#: Components tuned together.
GROUPS = {
    "mesh": ("condition", "intervention"),
    "features": ("intervention_node", "lead_sponsor", "phase", "country", "site", "dates"),
    "links": ("publication", "secondary_id", "intervention_name", "programme"),
    "intervention_type": ("intervention_type",),
    "text": ("text",),
}
#: MeSH stays at 1: a ranking does not change when every weight is multiplied by one number, so one group is the unit.
GRID = {
    "mesh": (1.0,),
    "features": (0.5, 1.0, 2.0, 4.0),
    "links": (0.5, 1.0, 2.0, 4.0),
    "intervention_type": (0.0, 1.0, 2.0),
    "text": (0.5, 1.0, 2.0, 4.0, 8.0),
}


#: MAP differences on the tune half smaller than this (half a query's average precision over 25 queries) are noise.
TOLERANCE = 0.02
#: The guard rail: with the chosen weights, at least this share of the top-10 neighbours of random trials share a
#: condition term or a specific condition ancestor (``neighbour_quality``, the first engine's bar), on this sample.
QUALITY_FLOOR = 0.9
QUALITY_SAMPLE = 200
#: One sponsor's programme of ten trials (TPN171H) is a fifth of the labelled queries: the table shows the engines
#: without such families too.
LARGE_FAMILY = 5


def weights(choice: Mapping[str, float]) -> dict[str, float]:
    return {name: choice[group] for group, names in GROUPS.items() for name in names}


def tune(index: RelatedIndex, labels: Labels) -> tuple[dict[str, float], float, float]:
    """The grid point for ``labels`` (see the module docstring): returns it, its MAP and the best feasible MAP."""
    points = []
    for values in itertools.product(*GRID.values()):
        choice = dict(zip(GRID, values, strict=True))
        score = evaluate(retrieve(index, labels, weights(choice)), labels)["MAP"]
        points.append((score, -sum(abs(math.log2(v)) if v else 4.0 for v in values), choice))
    checked: dict[int, bool] = {}

    def feasible(number: int) -> bool:
        if number not in checked:
            quality = neighbour_quality(index, sample=QUALITY_SAMPLE, weights=weights(points[number][2]))["engine"]
            checked[number] = quality >= QUALITY_FLOOR
        return checked[number]

    by_score = sorted(range(len(points)), key=lambda n: -points[n][0])
    best = next(points[n][0] for n in by_score if feasible(n))
    near = sorted((n for n in by_score if points[n][0] >= best - TOLERANCE), key=lambda n: -points[n][1])
    chosen = next(n for n in near if feasible(n))
    return points[chosen][2], points[chosen][0], best


def table(index: RelatedIndex, held: Labels) -> list[tuple[str, dict[str, float]]]:
    engines = {
        "all (WEIGHTS)": WEIGHTS,
        "MeSH only": MESH_ONLY,
        "text only": TEXT_ONLY,
        "structure only": STRUCTURE_ONLY,
        "old engine (first generation)": OLD_ENGINE,
    }
    rows = [(name, evaluate(retrieve(index, held, chosen), held)) for name, chosen in engines.items()]
    rows.append(("naive: shared MeSH-term count", evaluate(naive_rankings(index, held), held)))
    rows.append(("random", evaluate(random_rankings(index, held), held)))
    small = {query: labels for query, labels in held.items() if len(labels) < LARGE_FAMILY}
    for name, chosen in (("all (WEIGHTS)", WEIGHTS), ("old engine (first generation)", OLD_ENGINE)):
        found = evaluate(retrieve(index, small, chosen), small)
        rows.append((f"{name}, queries with < {LARGE_FAMILY} related ({int(found['queries'])})", found))
    return rows


def markdown(
    rows: list[tuple[str, dict[str, float]]], tuned: dict[str, float], tune_map: float, best: float, sizes: str
) -> str:
    lines = [
        "# Related trials on the development set (held-out half)",
        "",
        f"Written by `python benchmarks/related_eval.py`. {sizes}",
        "",
        "| engine | " + " | ".join(MEASURES) + " |",
        "|---|" + "---|" * len(MEASURES),
    ]
    lines += [f"| {name} | " + " | ".join(f"{m[k]:.3f}" for k in MEASURES) + " |" for name, m in rows]
    lines += [
        "",
        f"Chosen on the tune half (MAP {tune_map:.3f}; the best grid point keeping {QUALITY_FLOOR:.0%} of neighbours "
        f"in a shared condition had {best:.3f}, the plainest within {TOLERANCE} of it is chosen): "
        + ", ".join(f"{group} x {value:g}" for group, value in tuned.items())
        + f"; `WEIGHTS` {'matches it' if weights(tuned) == {n: WEIGHTS[n] for n in COMPONENTS} else 'differs'}.",
        "",
    ]
    return "\n".join(lines)


def run(spec: str, out: Path) -> None:
    pairs = development_pairs(latest_by_nct(raw_studies()))
    tune_half, held = split(pairs)
    with open_store(spec, read_only=True) as store:
        index = RELATED_INDEX.load(store)
    tuned, tune_map, best = tune(index, tune_half)
    logger.info("tuned on %d queries: %s (MAP %.3f)", len(tune_half), tuned, tune_map)
    rows = table(index, held)
    sizes = (
        f"{len(pairs)} labelled query trials ({sum(map(len, pairs.values())) // 2} related pairs) in "
        f"{len(index.ncts):,} trials; tune half {len(tune_half)} queries, held-out half {len(held)}."
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(rows, tuned, tune_map, best, sizes), encoding="utf-8")
    print(out.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="oxigraph:PATH of a store built from ../shared/data with MeSH")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.store:
        run(args.store, args.out)
        return
    with tempfile.TemporaryDirectory(prefix="kg-related-eval-") as directory:
        spec = f"oxigraph:{Path(directory) / 'store'}"
        build([CTGOV_DATA], spec, mesh=[MESH_DATA / "d2024-reduced.bin", MESH_DATA / "c2024-reduced.bin"])
        run(spec, args.out)


if __name__ == "__main__":
    main()
