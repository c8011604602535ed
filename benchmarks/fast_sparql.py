"""The measured examples of ``docs/fast-sparql.md``: each rule of the guide as a slow and a fast form of one question,
timed side by side on one store, with their answers compared.

    python benchmarks/fast_sparql.py --store oxigraph:benchmarks/results/tmp/store-100000

Each form runs ``--repeats`` times (median and slowest reported); a form that takes longer than ``--budget`` seconds
once is not repeated. Writes ``benchmarks/results/fast_sparql.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from kg.analysis.answers import answer
from kg.analysis.indexes import SAVED_INDEXES
from kg.queries import run
from kg.store import QueryResult, Store, open_store
from kg.vocab import SPARQL_PROLOGUE

RESULTS: Final = Path(__file__).parent / "results"
NEOPLASMS: Final = "http://id.nlm.nih.gov/mesh/D009369"
LUNG: Final = "http://id.nlm.nih.gov/mesh/D008175"


@dataclass(frozen=True)
class Example:
    rule: str
    question: str
    slow: tuple[str, Callable[[Store], QueryResult]]
    fast: tuple[str, Callable[[Store], QueryResult]]


def _sparql(text: str) -> Callable[[Store], QueryResult]:
    return lambda store: store.select(SPARQL_PROLOGUE + text)


def _examples(nct: str) -> list[Example]:
    return [
        Example(
            "Walk the materialised closure from the bound concept, not a property path from every trial",
            "How many trials have a condition at or under Neoplasms?",
            (
                "skos:broader* from each trial's terms",
                _sparql(
                    f"SELECT (COUNT(DISTINCT ?trial) AS ?n) WHERE {{ ?trial kg:conditionMesh ?term . "
                    f"?term skos:broader* <{NEOPLASMS}> }}"
                ),
            ),
            (
                "kg:ancestor? from the concept",
                _sparql(
                    f"SELECT (COUNT(DISTINCT ?trial) AS ?n) WHERE {{ ?term kg:ancestor? <{NEOPLASMS}> . "
                    f"?trial kg:conditionMesh ?term }}"
                ),
            ),
        ),
        Example(
            "Compare IRIs, not text",
            "Which trials have Lung Neoplasms as a condition term?",
            (
                "FILTER on the label",
                _sparql(
                    "SELECT (COUNT(DISTINCT ?trial) AS ?n) WHERE { ?trial kg:conditionMesh ?term . "
                    '?term skos:prefLabel ?label FILTER(LCASE(STR(?label)) = "lung neoplasms") }'
                ),
            ),
            (
                "the concept's IRI",
                _sparql(f"SELECT (COUNT(DISTINCT ?trial) AS ?n) WHERE {{ ?trial kg:conditionMesh <{LUNG}> }}"),
            ),
        ),
        Example(
            "Bind the trial inside every UNION branch",
            f"{nct}'s start and completion dates",
            (
                "the id outside the UNION",
                _sparql(
                    f'SELECT ?date WHERE {{ ?trial dcterms:identifier "{nct}" . '
                    "{ ?trial kg:startDate ?date } UNION { ?trial kg:completionDate ?date } }"
                ),
            ),
            (
                "the id in each branch",
                _sparql(
                    f'SELECT ?date WHERE {{ {{ ?trial dcterms:identifier "{nct}" ; kg:startDate ?date }} '
                    f'UNION {{ ?trial dcterms:identifier "{nct}" ; kg:completionDate ?date }} }}'
                ),
            ),
        ),
        Example(
            "Join whole predicates in sub-selects rather than looking each trial up",
            "Trials under Neoplasms by overall status",
            (
                "OPTIONAL lookups per trial",
                _sparql(
                    f"SELECT ?status (COUNT(?trial) AS ?n) WHERE {{ {{ SELECT DISTINCT ?trial WHERE {{ "
                    f"?term kg:ancestor? <{NEOPLASMS}> . ?trial kg:conditionMesh ?term }} }} "
                    "OPTIONAL { ?trial kg:overallStatus ?status } } GROUP BY ?status"
                ),
            ),
            (
                "a whole-predicate sub-select",
                _sparql(
                    f"SELECT ?status (COUNT(?trial) AS ?n) WHERE {{ {{ SELECT DISTINCT ?trial WHERE {{ "
                    f"?term kg:ancestor? <{NEOPLASMS}> . ?trial kg:conditionMesh ?term }} }} "
                    "OPTIONAL { { SELECT ?trial ?status WHERE { ?trial kg:overallStatus ?status } } } } "
                    "GROUP BY ?status"
                ),
            ),
        ),
        Example(
            "Substring search belongs to a text index",
            'Trials with a condition term containing "lung"',
            ("trials_by_condition in SPARQL", lambda store: run(store, "trials_by_condition", {"condition": "lung"})),
            (
                "kg query (the search index)",
                lambda store: answer(store, "trials_by_condition", {"condition": "lung"}),
            ),
        ),
        Example(
            "Whole-registry counts belong to the fact table",
            "Trials by phase and status",
            ("phase_status_counts in SPARQL", lambda store: run(store, "phase_status_counts")),
            ("kg query (the fact table)", lambda store: answer(store, "phase_status_counts")),
        ),
    ]


def _unordered(value: object) -> str:
    """A value with the parts of a ``GROUP_CONCAT`` sorted: SPARQL leaves their order to the engine."""
    return " | ".join(sorted(str(value).split(" | ")))


def _timed(form: Callable[[Store], QueryResult], store: Store, repeats: int, budget: float) -> dict[str, Any]:
    seconds: list[float] = []
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = form(store)
        seconds.append(time.perf_counter() - started)
        if seconds[-1] > budget:
            break
    assert result is not None
    return {
        "median_ms": 1000 * statistics.median(seconds),
        "max_ms": 1000 * max(seconds),
        "runs": len(seconds),
        "rows": len(result.rows),
        "answer": [sorted(map(_unordered, row.values())) for row in result.rows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--store", required=True, help="an on-disk store, e.g. oxigraph:benchmarks/results/tmp/store-100000"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=float, default=5.0, help="seconds: a slower form is run once")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with open_store(args.store, read_only=True) as store:
        for kind in SAVED_INDEXES:
            kind.load(store)  # one-off index loads stay out of the timings
        trials = store.select(SPARQL_PROLOGUE + "SELECT (COUNT(*) AS ?n) WHERE { ?t a schema:MedicalTrial }").rows[0][
            "n"
        ]
        nct = str(
            store.select(SPARQL_PROLOGUE + "SELECT ?nct WHERE { ?t dcterms:identifier ?nct } LIMIT 1").rows[0]["nct"]
        )
        measured = []
        for example in _examples(nct):
            slow = _timed(example.slow[1], store, args.repeats, args.budget)
            fast = _timed(example.fast[1], store, args.repeats, args.budget)
            same = sorted(slow.pop("answer")) == sorted(fast.pop("answer"))
            measured.append(
                {
                    "rule": example.rule,
                    "question": example.question,
                    "slow": {"form": example.slow[0], **slow},
                    "fast": {"form": example.fast[0], **fast},
                    "same_answer": same,
                }
            )
            print(f"{example.rule}: {slow['median_ms']:,.1f} ms → {fast['median_ms']:,.1f} ms (same answer: {same})")
    results = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": f"python benchmarks/fast_sparql.py --store {args.store}",
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        "trials": trials,
        "examples": measured,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fast_sparql.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    lines = [
        f"# Fast SPARQL: measured examples ({trials:,} trials)",
        "",
        f"{results['date']} · {results['machine']} · `{results['command']}`",
        "",
        "| rule | slow form | ms | fast form | ms | ratio | same answer |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for m in measured:
        slow, fast = m["slow"], m["fast"]
        ratio = slow["median_ms"] / max(fast["median_ms"], 0.001)
        lines.append(
            f"| {m['rule']} | {slow['form']} | {slow['median_ms']:,.1f} | {fast['form']} | {fast['median_ms']:,.1f} "
            f"| {ratio:,.0f}x | {'yes' if m['same_answer'] else '**no**'} |"
        )
    (args.out / "fast_sparql.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
