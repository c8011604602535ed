"""``kg related-eval``: score related trials on a labelled set (TrialSim / SECRET layout), this engine and the first."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from kg.cli.app import FormatOption, StoreOption, app
from kg.cli.output import Format, print_result

__all__ = ["related_eval"]


class Mode(str, Enum):
    rerank = "rerank"
    retrieve = "retrieve"


@app.command("related-eval")
def related_eval(
    labels: Annotated[
        Path, typer.Argument(help="CSV/TSV of query NCT id, candidate NCT id, 0/1 label.", show_default=False)
    ],
    mode: Annotated[
        Mode, typer.Option(help="rerank: order each query's labelled candidates; retrieve: search the whole store.")
    ] = Mode.rerank,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """P@1, P@5, R@5, nDCG@5 and MAP of related trials on labelled pairs, for this engine and the first-generation
    one. Fetch the labelled trials first (``kg fetch --nct``); queries not in the store are left out."""
    from kg.analysis.related import OLD_ENGINE, RELATED_INDEX, WEIGHTS
    from kg.analysis.related_eval import MEASURES, evaluate, read_labels, rerank, retrieve
    from kg.store import QueryResult, open_store

    labelled = read_labels(labels)
    with open_store(store, read_only=True) as opened:
        index = RELATED_INDEX.load(opened)
    rows: list[dict[str, str | int | float | bool | None]] = []
    for name, weights in (("engine", WEIGHTS), ("first-generation engine", OLD_ENGINE)):
        ranked = rerank(index, labelled, weights) if mode is Mode.rerank else retrieve(index, labelled, weights)
        found = evaluate(ranked, {query: labelled[query] for query in ranked})
        rows.append({"engine": name, **{k: round(found[k], 4) for k in MEASURES}, "queries": int(found["queries"])})
    print_result(QueryResult(["engine", *MEASURES, "queries"], rows), fmt, title=f"Related trials on {labels.name}")
