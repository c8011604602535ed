"""Named queries answered the fast way on an embedded store: from the indexes saved beside it, with the query's rows.

At registry scale (600k trials) a whole-registry aggregate or a text search in SPARQL reads every trial and takes
seconds to minutes on two cores. The same rows come from the landscape fact table (aggregates, landscapes) or the
search index (condition and intervention text, MeSH-bound trial lists, shared concepts) in milliseconds. The ``.rq``
file stays the definition: tests check that both give the same rows on the real records. A store that cannot be
read whole fast (rdflib, a remote engine) runs the SPARQL, as a landscape does: building an index from it would
cost more than the query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from kg.analysis.registry_facts import FROM_FACTS
from kg.analysis.search_index import FROM_SEARCH
from kg.queries import bindings, load_query, run
from kg.store import QueryResult, Store

__all__ = ["FAST_QUERIES", "answer"]

Answer = Callable[[Store, Mapping[str, str]], QueryResult]
#: Named query → the function that answers it from a saved index, with the same rows (order and value types).
FAST_QUERIES: Final[Mapping[str, Answer]] = {**FROM_FACTS, **FROM_SEARCH}


def answer(store: Store, name: str, values: Mapping[str, str] | None = None) -> QueryResult:
    """The rows of named query ``name``: from a saved index where one answers it, else by running the SPARQL."""
    values = values or {}
    fast = FAST_QUERIES.get(name)
    if fast is None or not store.scans_fast:
        return run(store, name, values)
    bindings(load_query(name), values)  # the same errors as the SPARQL for an unknown or missing parameter
    return fast(store, values)
